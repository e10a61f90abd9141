// Secrets at rest (secret env values, registry passwords): AES-256-GCM with a key made once and kept
// in $DSTACK_HOME/secret.key (0600). The database only ever holds the ciphertext.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT = 1;

export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== KEY_BYTES) throw new Error(`secret key must be ${KEY_BYTES} bytes`);
  }

  /** The key in `file`, made (random, mode 0600) when the file does not exist yet. */
  static open(file: string): SecretBox {
    if (!existsSync(file)) {
      try {
        writeFileSync(file, randomBytes(KEY_BYTES), { mode: 0o600, flag: 'wx' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    chmodSync(file, 0o600);
    const key = readFileSync(file);
    if (key.length !== KEY_BYTES) throw new Error(`${file}: expected a ${KEY_BYTES}-byte key, found ${key.length} bytes`);
    return new SecretBox(key);
  }

  /** format byte | iv | tag | ciphertext */
  encrypt(plaintext: string): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from([FORMAT]), iv, cipher.getAuthTag(), ct]);
  }

  decrypt(blob: Buffer): string {
    if (blob.length < 1 + IV_BYTES + TAG_BYTES || blob[0] !== FORMAT) throw new Error('not a sealed secret');
    const iv = blob.subarray(1, 1 + IV_BYTES);
    const tag = blob.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(blob.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  }

  sealJson(value: unknown): Buffer {
    return this.encrypt(JSON.stringify(value));
  }

  openJson<T>(blob: Buffer): T {
    return JSON.parse(this.decrypt(blob)) as T;
  }
}
