/**
 * The checksum algorithms S3 supports for objects (x-amz-checksum-*), computed incrementally while
 * bodies stream to disk. CRC32 uses node:zlib; CRC32C and CRC64NVME are table-driven.
 */
/* eslint-disable no-bitwise */ // checksum arithmetic
import { createHash, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const CHECKSUM_ALGORITHMS = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const;
export type ChecksumAlgorithm = typeof CHECKSUM_ALGORITHMS[number];

/** An incremental hasher. `digest()` may be called once. */
export interface Hasher {
  update(data: Buffer): void;
  digest(): Buffer;
}

export function isChecksumAlgorithm(value: string): value is ChecksumAlgorithm {
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(value);
}

/** `x-amz-checksum-crc32` etc. */
export function checksumHeaderName(algorithm: ChecksumAlgorithm): string {
  return `x-amz-checksum-${algorithm.toLowerCase()}`;
}

/** The XML element name of a checksum (`ChecksumCRC32`). */
export function checksumElementName(algorithm: ChecksumAlgorithm): string {
  return `Checksum${algorithm}`;
}

class Crc32Hasher implements Hasher {
  private value = 0;
  update(data: Buffer): void { this.value = crc32(data, this.value); }
  digest(): Buffer { const b = Buffer.alloc(4); b.writeUInt32BE(this.value >>> 0); return b; }
}

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let j = 0; j < 8; j++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

class Crc32cHasher implements Hasher {
  private crc = 0xffffffff;
  update(data: Buffer): void {
    let crc = this.crc;
    for (let i = 0; i < data.length; i++) crc = (crc >>> 8) ^ CRC32C_TABLE[(crc ^ data[i]) & 0xff];
    this.crc = crc;
  }
  digest(): Buffer { const b = Buffer.alloc(4); b.writeUInt32BE((this.crc ^ 0xffffffff) >>> 0); return b; }
}

/** Reflected CRC-64/NVME table, each entry split into high and low 32-bit halves. */
let crc64Table: { hi: Uint32Array; lo: Uint32Array } | undefined;
function crc64NvmeTable(): { hi: Uint32Array; lo: Uint32Array } {
  if (!crc64Table) {
    const hi = new Uint32Array(256);
    const lo = new Uint32Array(256);
    const poly = 0x9a6c9329ac4bc9b5n;
    for (let i = 0; i < 256; i++) {
      let c = BigInt(i);
      for (let j = 0; j < 8; j++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
      hi[i] = Number(c >> 32n);
      lo[i] = Number(c & 0xffffffffn);
    }
    crc64Table = { hi, lo };
  }
  return crc64Table;
}

class Crc64NvmeHasher implements Hasher {
  private hi = 0xffffffff;
  private lo = 0xffffffff;
  update(data: Buffer): void {
    const { hi: th, lo: tl } = crc64NvmeTable();
    let hi = this.hi;
    let lo = this.lo;
    for (let i = 0; i < data.length; i++) {
      const idx = (lo ^ data[i]) & 0xff;
      // crc = table[idx] ^ (crc >>> 8), on a 64-bit value held as two 32-bit halves
      lo = ((lo >>> 8) | ((hi & 0xff) << 24)) ^ tl[idx];
      hi = (hi >>> 8) ^ th[idx];
    }
    this.hi = hi >>> 0;
    this.lo = lo >>> 0;
  }
  digest(): Buffer {
    const b = Buffer.alloc(8);
    b.writeUInt32BE((this.hi ^ 0xffffffff) >>> 0, 0);
    b.writeUInt32BE((this.lo ^ 0xffffffff) >>> 0, 4);
    return b;
  }
}

class CryptoHasher implements Hasher {
  private readonly hash: Hash;
  constructor(algorithm: string) { this.hash = createHash(algorithm); }
  update(data: Buffer): void { this.hash.update(data); }
  digest(): Buffer { return this.hash.digest(); }
}

export function createHasher(algorithm: ChecksumAlgorithm | 'MD5'): Hasher {
  switch (algorithm) {
    case 'CRC32': return new Crc32Hasher();
    case 'CRC32C': return new Crc32cHasher();
    case 'CRC64NVME': return new Crc64NvmeHasher();
    case 'SHA1': return new CryptoHasher('sha1');
    case 'SHA256': return new CryptoHasher('sha256');
    case 'MD5': return new CryptoHasher('md5');
  }
}
