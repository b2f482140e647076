/**
 * The XML of the S3 REST API: parsing request documents (Delete, CompleteMultipartUpload,
 * NotificationConfiguration, CreateBucketConfiguration) and rendering every response document and
 * the `<Error>` body, in the shapes and element order of the S3 API reference.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { checksumElementName, type ChecksumAlgorithm } from './checksums';
import { S3Error } from './errors';
import type { DeleteMarker, ObjectChecksum, ObjectMeta, PartInfo } from './store-types';
import { xmlEscape } from '../http';

export const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
export const XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';
/** Largest request document accepted. */
export const MAX_XML_BODY = 2 * 1024 * 1024;
const OWNER = { id: '75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a', name: 'local' };
const OWNER_XML = `<Owner><ID>${OWNER.id}</ID><DisplayName>${OWNER.name}</DisplayName></Owner>`;

const xmlParser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: false,
  htmlEntities: true,
  removeNSPrefix: true,
  isArray: (name) => ['Object', 'Part', 'TopicConfiguration', 'QueueConfiguration', 'CloudFunctionConfiguration'].includes(name),
});

export const malformedXml = () =>
  new S3Error('MalformedXML', 400, 'The XML you provided was not well-formed or did not validate against our published schema');

/** A request document; 400 MalformedXML when it is empty or not well-formed. */
export function parseXmlBody(body: Buffer): Record<string, unknown> {
  const xml = body.toString('utf8');
  if (xml.trim() === '' || XMLValidator.validate(xml) !== true) throw malformedXml();
  return xmlParser.parse(xml) as Record<string, unknown>;
}

export function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null ? v as Record<string, unknown> : {};
}

/** The text of an element (`<a>x</a>` or `<a attr="…">x</a>`). */
export function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as Record<string, unknown>)['#text'] === 'string') {
    return (v as Record<string, string>)['#text'];
  }
  return undefined;
}

export function quote(etag: string): string {
  return `"${etag}"`;
}

/** `<ChecksumCRC32>…</ChecksumCRC32><ChecksumType>…</ChecksumType>` of a stored checksum. */
export function checksumXml(c: ObjectChecksum | undefined): string {
  return c ? `<${checksumElementName(c.algorithm)}>${c.value}</${checksumElementName(c.algorithm)}><ChecksumType>${c.type}</ChecksumType>` : '';
}

/** The `<Error>` body of an error response. */
export function errorXml(err: S3Error, resource: string, requestId: string): string {
  const extra = Object.entries(err.extra).map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`).join('');
  return `${XML_DECL}<Error><Code>${err.code}</Code><Message>${xmlEscape(err.message)}</Message>${extra}`
    + `<Resource>${xmlEscape(resource)}</Resource><RequestId>${requestId}</RequestId><HostId>${Buffer.from(requestId).toString('base64')}</HostId></Error>`;
}

export function listBucketsXml(buckets: ReadonlyArray<{ name: string; creationDate: string }>): string {
  return `<ListAllMyBucketsResult xmlns="${XMLNS}">${OWNER_XML}<Buckets>`
    + buckets.map((b) => `<Bucket><Name>${xmlEscape(b.name)}</Name><CreationDate>${b.creationDate}</CreationDate></Bucket>`).join('')
    + '</Buckets></ListAllMyBucketsResult>';
}

export const locationXml = () => `<LocationConstraint xmlns="${XMLNS}"/>`;

/** GetBucketVersioning: `<Status>` only once versioning was ever configured. */
export function versioningXml(status: string | undefined): string {
  return `<VersioningConfiguration xmlns="${XMLNS}">${status ? `<Status>${status}</Status>` : ''}</VersioningConfiguration>`;
}

export function notificationXml(eventBridge: boolean): string {
  return `<NotificationConfiguration xmlns="${XMLNS}">${eventBridge ? '<EventBridgeConfiguration></EventBridgeConfiguration>' : ''}</NotificationConfiguration>`;
}

/** One page of ListObjects (V1) or ListObjectsV2, with the request's parameters echoed as S3 echoes them. */
export interface ListPage {
  readonly version: 1 | 2;
  readonly bucket: string;
  readonly prefix: string;
  readonly delimiter: string;
  readonly maxKeys: number;
  readonly urlEncode: boolean;
  readonly fetchOwner: boolean;
  /** V2 `continuation-token` as sent (null: none). */
  readonly token: string | null;
  /** V2 `start-after` as sent. */
  readonly startAfter?: string;
  /** V1 `marker` as sent. */
  readonly marker: string;
  readonly truncated: boolean;
  /** The last key or common prefix of the page (the next page starts after it). */
  readonly last?: string;
  readonly contents: readonly ObjectMeta[];
  readonly prefixes: readonly string[];
}

export function listObjectsXml(p: ListPage): string {
  const enc = (s: string) => xmlEscape(p.urlEncode ? encodeURIComponent(s).replace(/%2F/g, '/') : s);
  const owner = p.fetchOwner ? OWNER_XML : '';
  let xml = `<ListBucketResult xmlns="${XMLNS}"><Name>${xmlEscape(p.bucket)}</Name><Prefix>${enc(p.prefix)}</Prefix>`;
  if (p.version === 2) {
    if (p.token !== null) xml += `<ContinuationToken>${xmlEscape(p.token)}</ContinuationToken>`;
    if (p.startAfter !== undefined) xml += `<StartAfter>${enc(p.startAfter)}</StartAfter>`;
    xml += `<KeyCount>${p.contents.length + p.prefixes.length}</KeyCount>`;
  } else {
    xml += `<Marker>${enc(p.marker)}</Marker>`;
  }
  xml += `<MaxKeys>${p.maxKeys}</MaxKeys>`;
  if (p.delimiter) xml += `<Delimiter>${enc(p.delimiter)}</Delimiter>`;
  xml += `<IsTruncated>${p.truncated}</IsTruncated>`;
  if (p.truncated && p.last !== undefined) {
    xml += p.version === 2
      ? `<NextContinuationToken>${Buffer.from(p.last, 'utf8').toString('base64')}</NextContinuationToken>`
      : `<NextMarker>${enc(p.last)}</NextMarker>`;
  }
  if (p.urlEncode) xml += '<EncodingType>url</EncodingType>';
  for (const m of p.contents) {
    xml += `<Contents><Key>${enc(m.key)}</Key><LastModified>${m.lastModified}</LastModified><ETag>${xmlEscape(quote(m.etag))}</ETag>`;
    if (m.checksum) xml += `<ChecksumAlgorithm>${m.checksum.algorithm}</ChecksumAlgorithm><ChecksumType>${m.checksum.type}</ChecksumType>`;
    xml += `<Size>${m.size}</Size>${owner}<StorageClass>STANDARD</StorageClass></Contents>`;
  }
  for (const prefix of p.prefixes) xml += `<CommonPrefixes><Prefix>${enc(prefix)}</Prefix></CommonPrefixes>`;
  return `${xml}</ListBucketResult>`;
}

/** One key's outcome in a DeleteObjects result. */
export type DeleteOutcome =
  | { key: string; deleted: true; versionId?: string; deleteMarker?: boolean; deleteMarkerVersionId?: string }
  | { key: string; deleted: false; code: string; message: string; versionId?: string };

export function deleteResultXml(outcomes: readonly DeleteOutcome[], quiet: boolean): string {
  let xml = `<DeleteResult xmlns="${XMLNS}">`;
  for (const o of outcomes) {
    if (o.deleted) {
      if (quiet) continue;
      xml += `<Deleted><Key>${xmlEscape(o.key)}</Key>`;
      if (o.versionId !== undefined) xml += `<VersionId>${xmlEscape(o.versionId)}</VersionId>`;
      if (o.deleteMarker) xml += `<DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>${xmlEscape(o.deleteMarkerVersionId ?? '')}</DeleteMarkerVersionId>`;
      xml += '</Deleted>';
    } else {
      xml += `<Error><Key>${xmlEscape(o.key)}</Key>${o.versionId !== undefined ? `<VersionId>${xmlEscape(o.versionId)}</VersionId>` : ''}<Code>${o.code}</Code><Message>${xmlEscape(o.message)}</Message></Error>`;
    }
  }
  return `${xml}</DeleteResult>`;
}

export function copyObjectResultXml(stored: ObjectMeta): string {
  return `<CopyObjectResult xmlns="${XMLNS}"><ETag>${xmlEscape(quote(stored.etag))}</ETag><LastModified>${stored.lastModified}</LastModified>`
    + `${checksumXml(stored.checksum)}</CopyObjectResult>`;
}

export function initiateMultipartUploadXml(bucket: string, key: string, uploadId: string): string {
  return `<InitiateMultipartUploadResult xmlns="${XMLNS}"><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key>`
    + `<UploadId>${uploadId}</UploadId></InitiateMultipartUploadResult>`;
}

export function completeMultipartUploadXml(location: string, bucket: string, key: string, stored: ObjectMeta): string {
  return `<CompleteMultipartUploadResult xmlns="${XMLNS}"><Location>${xmlEscape(location)}</Location><Bucket>${xmlEscape(bucket)}</Bucket>`
    + `<Key>${xmlEscape(key)}</Key><ETag>${xmlEscape(quote(stored.etag))}</ETag>${checksumXml(stored.checksum)}</CompleteMultipartUploadResult>`;
}

export interface PartsPage {
  readonly bucket: string;
  readonly key: string;
  readonly uploadId: string;
  readonly marker: number;
  readonly maxParts: number;
  readonly truncated: boolean;
  readonly checksumAlgorithm?: ChecksumAlgorithm;
  readonly checksumType?: string;
  readonly parts: readonly PartInfo[];
}

export function listPartsXml(p: PartsPage): string {
  let xml = `<ListPartsResult xmlns="${XMLNS}"><Bucket>${xmlEscape(p.bucket)}</Bucket><Key>${xmlEscape(p.key)}</Key><UploadId>${p.uploadId}</UploadId>`
    + `<PartNumberMarker>${p.marker}</PartNumberMarker>`;
  if (p.parts.length > 0) xml += `<NextPartNumberMarker>${p.parts[p.parts.length - 1].partNumber}</NextPartNumberMarker>`;
  xml += `<MaxParts>${p.maxParts}</MaxParts><IsTruncated>${p.truncated}</IsTruncated>`;
  if (p.checksumAlgorithm) xml += `<ChecksumAlgorithm>${p.checksumAlgorithm}</ChecksumAlgorithm><ChecksumType>${p.checksumType}</ChecksumType>`;
  for (const part of p.parts) {
    xml += `<Part><PartNumber>${part.partNumber}</PartNumber><LastModified>${part.lastModified}</LastModified><ETag>${xmlEscape(quote(part.etag))}</ETag><Size>${part.size}</Size>`;
    if (part.checksum && p.checksumAlgorithm) xml += `<${checksumElementName(p.checksumAlgorithm)}>${part.checksum}</${checksumElementName(p.checksumAlgorithm)}>`;
    xml += '</Part>';
  }
  return `${xml}</ListPartsResult>`;
}

/** One version (or delete marker) of a ListObjectVersions page. */
export interface VersionEntry {
  readonly key: string;
  readonly versionId: string;
  readonly latest?: boolean;
  readonly meta?: ObjectMeta;
  readonly marker?: DeleteMarker;
}

export interface VersionsPage {
  readonly bucket: string;
  readonly prefix: string;
  readonly delimiter: string;
  readonly keyMarker: string;
  readonly versionIdMarker: string;
  readonly maxKeys: number;
  readonly urlEncode: boolean;
  readonly truncated: boolean;
  readonly versions: readonly VersionEntry[];
  readonly prefixes: readonly string[];
  /** Where the next page starts (truncated pages). */
  readonly next?: { key: string; versionId?: string };
}

export function listVersionsXml(p: VersionsPage): string {
  const enc = (s: string) => xmlEscape(p.urlEncode ? encodeURIComponent(s).replace(/%2F/g, '/') : s);
  let xml = `<ListVersionsResult xmlns="${XMLNS}"><Name>${xmlEscape(p.bucket)}</Name><Prefix>${enc(p.prefix)}</Prefix>`
    + `<KeyMarker>${enc(p.keyMarker)}</KeyMarker><VersionIdMarker>${xmlEscape(p.versionIdMarker)}</VersionIdMarker>`;
  if (p.next) {
    xml += `<NextKeyMarker>${enc(p.next.key)}</NextKeyMarker>`;
    if (p.next.versionId !== undefined) xml += `<NextVersionIdMarker>${xmlEscape(p.next.versionId)}</NextVersionIdMarker>`;
  }
  xml += `<MaxKeys>${p.maxKeys}</MaxKeys>`;
  if (p.delimiter) xml += `<Delimiter>${enc(p.delimiter)}</Delimiter>`;
  xml += `<IsTruncated>${p.truncated}</IsTruncated>`;
  if (p.urlEncode) xml += '<EncodingType>url</EncodingType>';
  for (const v of p.versions) {
    const head = `<Key>${enc(v.key)}</Key><VersionId>${xmlEscape(v.versionId)}</VersionId><IsLatest>${v.latest === true}</IsLatest>`;
    if (v.marker) {
      xml += `<DeleteMarker>${head}<LastModified>${v.marker.lastModified}</LastModified>${OWNER_XML}</DeleteMarker>`;
    } else if (v.meta) {
      xml += `<Version>${head}<LastModified>${v.meta.lastModified}</LastModified><ETag>${xmlEscape(quote(v.meta.etag))}</ETag>`;
      if (v.meta.checksum) xml += `<ChecksumAlgorithm>${v.meta.checksum.algorithm}</ChecksumAlgorithm><ChecksumType>${v.meta.checksum.type}</ChecksumType>`;
      xml += `<Size>${v.meta.size}</Size><StorageClass>STANDARD</StorageClass>${OWNER_XML}</Version>`;
    }
  }
  for (const prefix of p.prefixes) xml += `<CommonPrefixes><Prefix>${enc(prefix)}</Prefix></CommonPrefixes>`;
  return `${xml}</ListVersionsResult>`;
}
