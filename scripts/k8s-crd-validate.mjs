// Validates the Prometheus Operator objects (ServiceMonitor, PrometheusRule) and the Gateway API
// HTTPRoute in rendered manifests against validators generated from their CRD schemas: the npm
// packages @kubernetes-models/prometheus-operator and @kubernetes-models/gateway-api, installed by
// scripts/k8s-tools.sh into .cache/tools/npm.
// Checks types, required fields, enums and patterns (not unknown fields: `deploy-check operator`
// does that against the operator's Go API types).
//
//   node scripts/k8s-crd-validate.mjs FILE...
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseAllDocuments } from 'yaml';

const toolsDir = process.env.TOOLS_DIR ?? resolve(import.meta.dirname, '../.cache/tools');
const load = (path) =>
  import(pathToFileURL(join(toolsDir, 'npm/node_modules/@kubernetes-models', path)).href);
const operator = await load('prometheus-operator/monitoring.coreos.com/v1/index.js');
const gateway = await load('gateway-api/gateway.networking.k8s.io/v1/index.js');
const checked = {
  'monitoring.coreos.com/v1': {
    ServiceMonitor: operator.ServiceMonitor,
    PrometheusRule: operator.PrometheusRule,
  },
  'gateway.networking.k8s.io/v1': { HTTPRoute: gateway.HTTPRoute },
};

let found = 0;
let failed = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const object = doc.toJS();
    const kinds = checked[object?.apiVersion];
    if (!kinds) continue;
    const Model = kinds[object.kind];
    const what = `${file}: ${object.kind} ${object.metadata?.name}`;
    if (!Model) {
      console.error(`crd-validate: ${what}: no validator for this kind`);
      failed += 1;
      continue;
    }
    found += 1;
    try {
      new Model(object).validate();
      console.log(`crd-validate: ${what} valid`);
    } catch (err) {
      failed += 1;
      console.error(`crd-validate: ${what} INVALID: ${err instanceof Error ? err.message : err}`);
    }
  }
}
if (found === 0) {
  console.error('crd-validate: no ServiceMonitor, PrometheusRule or HTTPRoute found');
  process.exit(1);
}
process.exit(failed > 0 ? 1 : 0);
