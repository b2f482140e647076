import { only, synth } from './helpers';
import { FACILITY_RECORD_SCHEMA } from '../../src/schema/facility-record';
import { glueColumnsFromSchema } from '../../src/schema/glue-columns';

/** The catalog and query engine building blocks (src/pipeline/catalog.ts, src/pipeline/query-engine.ts). */
const { template, pipeline } = synth();
const synthBuckets = () => template.findResources('AWS::S3::Bucket');

describe('catalog', () => {
  test('data and logs are retained by default; the catalog and workgroup (no data, fixed names) are deleted', () => {
    for (const type of ['AWS::S3::Bucket', 'AWS::Logs::LogGroup', 'AWS::KMS::Key']) {
      for (const r of Object.values(template.findResources(type)) as any[]) expect(r.DeletionPolicy).toBe('Retain');
    }
    for (const type of ['AWS::Glue::Database', 'AWS::Glue::Table', 'AWS::Athena::WorkGroup']) {
      for (const r of Object.values(template.findResources(type)) as any[]) expect(r.DeletionPolicy).toBe('Delete');
    }
  });

  test('Glue database with a derived, valid name', () => {
    const db = only(template, 'AWS::Glue::Database').props;
    expect(db.DatabaseInput.Name).toMatch(/^medlaunch_elt_[a-z0-9_]+$/);
    expect(db.DatabaseInput.Name).toBe(pipeline.databaseName);
  });

  test('validated_facilities: OpenX JSON SerDe, columns from the one schema, projection on snapshot_date', () => {
    const tables = template.findResources('AWS::Glue::Table', { Properties: { TableInput: { Name: 'validated_facilities' } } });
    const t = (Object.values(tables)[0] as any).Properties.TableInput;
    expect(t.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe('org.openx.data.jsonserde.JsonSerDe');
    expect(t.StorageDescriptor.Columns).toEqual(glueColumnsFromSchema().map((c) => ({ Name: c.name, Type: c.type })));
    // nested struct/array columns derive from the schema
    const byName = Object.fromEntries(t.StorageDescriptor.Columns.map((c: any) => [c.Name, c.Type]));
    expect(byName.location).toBe('struct<address:string,city:string,state:string,zip:string>');
    expect(byName.services).toBe('array<string>');
    expect(byName.accreditations).toMatch(/^array<struct<accreditation_body:string,/);
    expect(Object.keys(FACILITY_RECORD_SCHEMA.properties)).toContain('snapshot_date');
    expect(byName.snapshot_date).toBeUndefined();
    expect(t.PartitionKeys).toEqual([{ Name: 'snapshot_date', Type: 'string' }]);
    expect(t.Parameters).toMatchObject({
      'projection.enabled': 'true',
      'projection.snapshot_date.type': 'date',
      'projection.snapshot_date.format': 'yyyy-MM-dd',
    });
    const template0 = t.Parameters['storage.location.template'];
    expect(template0['Fn::Join'][1][0]).toBe('s3://');
    expect(template0['Fn::Join'][1][1]).toEqual({ Ref: Object.keys(synthBuckets()).find((id) => id.startsWith('PipelineDataBucket')) });
    expect(template0['Fn::Join'][1][2]).toBe('/validated/snapshot_date=${snapshot_date}/');
  });

  test('facility_metrics: Parquet table of the Stage 1 columns under the curated prefix', () => {
    const tables = template.findResources('AWS::Glue::Table', { Properties: { TableInput: { Name: 'facility_metrics' } } });
    const t = (Object.values(tables)[0] as any).Properties.TableInput;
    expect(t.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe('org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe');
    expect(t.StorageDescriptor.Columns).toEqual([
      { Name: 'facility_id', Type: 'string' },
      { Name: 'facility_name', Type: 'string' },
      { Name: 'employee_count', Type: 'int' },
      { Name: 'number_of_offered_services', Type: 'int' },
      { Name: 'expiry_date_of_first_accreditation', Type: 'date' },
      { Name: 'earliest_accreditation_expiry', Type: 'date' },
    ]);
    expect(t.PartitionKeys).toEqual([{ Name: 'snapshot_date', Type: 'string' }]);
    expect(t.Parameters['projection.enabled']).toBe('true');
    expect(JSON.stringify(t.StorageDescriptor.Location)).toContain('/curated/facility_metrics/');
    expect(JSON.stringify(t.Parameters['storage.location.template'])).toContain('/curated/facility_metrics/snapshot_date=${snapshot_date}/');
  });
});

describe('query engine: the Athena workgroup', () => {
  test('engine v3, enforced, KMS results, cutoff, CloudWatch metrics', () => {
    const wg = only(template, 'AWS::Athena::WorkGroup').props;
    expect(wg.Name).toBe(pipeline.workGroupName);
    expect(wg.WorkGroupConfiguration).toMatchObject({
      EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
      EnforceWorkGroupConfiguration: true,
      PublishCloudWatchMetricsEnabled: true,
      BytesScannedCutoffPerQuery: 10 * 1024 ** 3,
      ResultConfiguration: { EncryptionConfiguration: { EncryptionOption: 'SSE_KMS' } },
    });
    expect(JSON.stringify(wg.WorkGroupConfiguration.ResultConfiguration.OutputLocation)).toContain('/athena-results/');
  });

  test('bytesScannedCutoffPerQuery prop', () => {
    const t = synth({ bytesScannedCutoffPerQuery: 50_000_000 }).template;
    expect(only(t, 'AWS::Athena::WorkGroup').props.WorkGroupConfiguration.BytesScannedCutoffPerQuery).toBe(50_000_000);
  });
});
