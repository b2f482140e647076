import { maskAssetHashes, synth } from './helpers';

expect.addSnapshotSerializer(maskAssetHashes);

describe('template snapshot', () => {
  test('default pipeline (asset hashes masked)', () => {
    expect(synth().template.toJSON()).toMatchSnapshot();
  });

  test('the serializer masks asset hashes and keeps everything else', () => {
    const hash = 'a'.repeat(64);
    expect(maskAssetHashes.test(`${hash}.zip`)).toBe(true);
    expect(maskAssetHashes.serialize(`${hash}.zip`)).toBe('"[HASH REMOVED].zip"');
    expect(maskAssetHashes.test('data/batch/')).toBe(false);
    const template = JSON.stringify(synth().template.toJSON());
    expect(template).toMatch(/[a-f0-9]{64}\.zip/); // the raw template does carry asset hashes
  });
});
