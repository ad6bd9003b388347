/**
 * A fingerprint of the code that turns a feed's bytes into stored documents: the SHA-256 of every
 * module of `domain/`, `store/`, `ingest/` and `ingest/formats/` as this process runs them (the
 * compiled `.js` in a deployment, the `.ts` sources under Jest).
 *
 * An unchanged feed is skipped only when the run that wrote its documents ran the same code
 * (docs/adr/0016-*.md): a release that changes how a document is built then rewrites what
 * changed on its first run of each provider, instead of leaving the documents of the old code in
 * place until the next UTC day. The fingerprint is deliberately coarse (any edit of those folders,
 * even of a comment, costs one full run per provider) so that no change that matters can be
 * missed by a list someone forgot to update.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(import.meta.url);
const ROOT = join(dirname(HERE), '..');
const FOLDERS = ['domain', 'store', 'ingest', 'ingest/formats'];

let memo: string | undefined;

/** Hex SHA-256 of the document-building code; read once per process. */
export function documentCodeFingerprint(): string {
  memo ??= fingerprintOf(ROOT, extname(HERE));
  return memo;
}

/** Hex SHA-256 of the modules (`*<ext>`, no declarations) of FOLDERS under `root`. */
export function fingerprintOf(root: string, ext: string): string {
  const hash = createHash('sha256');
  for (const folder of FOLDERS) {
    const names = readdirSync(join(root, folder))
      .filter((name) => name.endsWith(ext) && !name.endsWith(`.d${ext}`))
      .sort();
    for (const name of names) {
      hash.update(`${folder}/${name}\0`);
      hash.update(readFileSync(join(root, folder, name)));
    }
  }
  return hash.digest('hex');
}
