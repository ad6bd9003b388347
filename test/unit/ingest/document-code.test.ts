/**
 * The fingerprint of the document-building code (src/ingest/document-code.ts): it changes with any
 * module of the folders that build documents, and with nothing else.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { appendFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { documentCodeFingerprint, fingerprintOf } from '../../../src/ingest/document-code.js';

const SRC = fileURLToPath(new URL('../../../src', import.meta.url));
let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'document-code-'));
  cpSync(SRC, root, { recursive: true });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the fingerprint of the document-building code', () => {
  it("is this process's modules' (the sources under Jest), the same on every call", () => {
    expect(documentCodeFingerprint()).toBe(fingerprintOf(SRC, '.ts'));
    expect(documentCodeFingerprint()).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each(['store/event-document.ts', 'domain/event.ts', 'ingest/formats/xml.ts', 'ingest/run.ts'])(
    'changes when %s changes',
    (file) => {
      const before = fingerprintOf(root, '.ts');
      appendFileSync(join(root, file), '\n// another release\n');
      expect(fingerprintOf(root, '.ts')).not.toBe(before);
    },
  );

  it('changes when a module is added to one of those folders', () => {
    const before = fingerprintOf(root, '.ts');
    writeFileSync(join(root, 'ingest/formats/json.ts'), 'export {};\n');
    expect(fingerprintOf(root, '.ts')).not.toBe(before);
  });

  it('does not change with the API, the processes or declarations', () => {
    const before = fingerprintOf(root, '.ts');
    appendFileSync(join(root, 'api/app.ts'), '\n// an API change\n');
    appendFileSync(join(root, 'main/ingest.ts'), '\n// an entry point change\n');
    writeFileSync(join(root, 'store/extra.d.ts'), 'export {};\n');
    expect(fingerprintOf(root, '.ts')).toBe(before);
  });
});
