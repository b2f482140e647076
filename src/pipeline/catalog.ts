import { Aws, RemovalPolicy } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import type { Construct } from 'constructs';
import { CURATED_COLUMNS, CURATED_TABLE, SNAPSHOT_PROJECTION_RANGE, VALIDATED_TABLE } from '../contract';
import { glueColumnsFromSchema } from '../schema/glue-columns';
import type { PipelinePrefixes } from '../validation';

/** The Glue database and its two tables. */
export interface PipelineCatalog {
  readonly database: glue.CfnDatabase;
  readonly validatedTable: glue.CfnTable;
  readonly curatedTable: glue.CfnTable;
}

/** Partition projection on `snapshot_date` for a table under `prefix` of the bucket. */
function projection(bucketName: string, prefix: string): Record<string, string> {
  return {
    'projection.enabled': 'true',
    'projection.snapshot_date.type': 'date',
    'projection.snapshot_date.format': 'yyyy-MM-dd',
    'projection.snapshot_date.range': SNAPSHOT_PROJECTION_RANGE,
    'projection.snapshot_date.interval': '1',
    'projection.snapshot_date.interval.unit': 'DAYS',
    'storage.location.template': `s3://${bucketName}/${prefix}snapshot_date=\${snapshot_date}/`,
  };
}

/**
 * The Glue catalog: the database, `validated_facilities` over the validated NDJSON (columns from the record schema)
 * and `facility_metrics` over the facility extract's Parquet.
 */
export function createCatalog(scope: Construct, opts: { databaseName: string; bucketName: string; prefixes: PipelinePrefixes }): PipelineCatalog {
  const { databaseName, bucketName, prefixes: p } = opts;
  const database = new glue.CfnDatabase(scope, 'Database', {
    catalogId: Aws.ACCOUNT_ID,
    databaseInput: {
      name: databaseName,
      description: 'medlaunch-elt: validated facility records and their Stage 1 extract',
    },
  });
  // The catalog and the workgroup hold no data (the data is in S3) but have fixed names: they are always deleted
  // with the stack, so deleting the stack and deploying it again never meets "already exists" (README, "Removal").
  database.applyRemovalPolicy(RemovalPolicy.DESTROY);
  const validatedTable = new glue.CfnTable(scope, 'ValidatedTable', {
    catalogId: Aws.ACCOUNT_ID,
    databaseName,
    tableInput: {
      name: VALIDATED_TABLE,
      description: 'Every valid facility record (Stage 2 output), NDJSON, one partition per snapshot',
      tableType: 'EXTERNAL_TABLE',
      parameters: { classification: 'json', EXTERNAL: 'TRUE', ...projection(bucketName, p.validated) },
      partitionKeys: [{ name: 'snapshot_date', type: 'string' }],
      storageDescriptor: {
        location: `s3://${bucketName}/${p.validated}`,
        inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
        outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
        serdeInfo: {
          serializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
          parameters: { 'ignore.malformed.json': 'FALSE', 'case.insensitive': 'TRUE', 'dots.in.keys': 'FALSE' },
        },
        columns: glueColumnsFromSchema().map((c) => ({ name: c.name, type: c.type })),
      },
    },
  });
  validatedTable.addDependency(database);
  validatedTable.applyRemovalPolicy(RemovalPolicy.DESTROY);
  const curatedTable = new glue.CfnTable(scope, 'CuratedTable', {
    catalogId: Aws.ACCOUNT_ID,
    databaseName,
    tableInput: {
      name: CURATED_TABLE,
      description: 'Stage 1 facility extract, Parquet, one partition per snapshot',
      tableType: 'EXTERNAL_TABLE',
      parameters: { 'classification': 'parquet', 'EXTERNAL': 'TRUE', 'parquet.compression': 'SNAPPY', ...projection(bucketName, p.curated) },
      partitionKeys: [{ name: 'snapshot_date', type: 'string' }],
      storageDescriptor: {
        location: `s3://${bucketName}/${p.curated}`,
        inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
        outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
        serdeInfo: { serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
        columns: CURATED_COLUMNS.map((c) => ({ name: c.name, type: c.type })),
      },
    },
  });
  curatedTable.addDependency(database);
  curatedTable.applyRemovalPolicy(RemovalPolicy.DESTROY);
  return { database, validatedTable, curatedTable };
}
