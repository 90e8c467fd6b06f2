// deploy/: what can be checked without a container runtime or a cluster. Every manifest parses;
// every container of the sidecar has probes on /readyz and /healthz, requests and limits, runs as
// non-root on a read-only root file system without privilege escalation, and takes its secrets from a
// Secret; the PodDisruptionBudget and NetworkPolicies exist and say what README "Deploying" says; the
// systemd unit is hardened and passes `systemd-analyze verify` where that tool exists. (The
// Dockerfile's steps run as a script in test/integration/deploy-dockerfile.test.ts.)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../helpers/sidecar.js';
import { noteMissing } from '../helpers/missing.js';

const K8S = path.join(ROOT, 'deploy', 'kubernetes');
type Doc = Record<string, any>;

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? yamlFiles(path.join(dir, e.name)) : e.name.endsWith('.yaml') ? [path.join(dir, e.name)] : []));
}

const docs: Array<{ file: string; doc: Doc }> = yamlFiles(K8S).flatMap((file) =>
  parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return { file, doc: d.toJS() as Doc };
  }),
);
const workloads = docs.filter(({ doc }) => doc && ['Deployment', 'StatefulSet'].includes(doc.kind));
const sidecarContainers = workloads.flatMap(({ file, doc }) =>
  (doc.spec.template.spec.containers as Doc[]).filter((c) => String(c.image).startsWith('jira-auth-sidecar')).map((c) => ({ file, pod: doc.spec.template.spec as Doc, c })),
);

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  it('every file parses, and each kustomization names files that exist', () => {
    expect(docs.length).toBeGreaterThan(8);
    for (const { file, doc } of docs.filter(({ doc }) => doc?.kind === 'Kustomization')) {
      for (const r of doc.resources ?? []) expect(existsSync(path.join(path.dirname(file), r)), `${file}: ${r}`).toBe(true);
      for (const p of doc.patches ?? []) expect(existsSync(path.join(path.dirname(file), p.path)), `${file}: ${p.path}`).toBe(true);
      for (const g of doc.configMapGenerator ?? []) for (const f of g.files) expect(existsSync(path.join(path.dirname(file), f.split('=').at(-1))), `${file}: ${f}`).toBe(true);
    }
  });

  it('the sidecar runs as its own Deployment and as a second container in the Jira pod', () => {
    expect(sidecarContainers.map(({ file }) => path.relative(K8S, file)).sort()).toEqual(['base/deployment.yaml', 'jira-pod/sidecar-container.patch.yaml']);
  });

  it.each(sidecarContainers.map((x) => [path.relative(K8S, x.file), x] as const))('%s: probes, resources, non-root, read-only root, no escalation, secrets from a Secret', (_, { pod, c }) => {
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    for (const k of ['cpu', 'memory']) {
      expect(c.resources.requests[k], `requests.${k}`).toBeDefined();
      expect(c.resources.limits[k], `limits.${k}`).toBeDefined();
    }
    const sc = { ...pod.securityContext, ...c.securityContext };
    expect(sc.runAsNonRoot).toBe(true);
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(c.securityContext.capabilities.drop).toEqual(['ALL']);
    // A read-only root needs a writable /tmp.
    expect((c.volumeMounts as Doc[]).some((m) => m.mountPath === '/tmp')).toBe(true);
    for (const e of c.env as Doc[]) {
      if (/PASSWORD|DATABASE_URL|SECRET/.test(e.name)) expect(e.valueFrom?.secretKeyRef, e.name).toBeDefined();
    }
  });

  it('a PodDisruptionBudget keeps replicas up during node drains', () => {
    const pdb = docs.find(({ doc }) => doc?.kind === 'PodDisruptionBudget')!.doc;
    const dep = workloads.find(({ doc }) => doc.kind === 'Deployment')!.doc;
    expect(pdb.spec.minAvailable).toBeGreaterThanOrEqual(1);
    expect(pdb.spec.minAvailable).toBeLessThan(dep.spec.replicas);
    expect(pdb.spec.selector.matchLabels).toEqual(dep.spec.selector.matchLabels);
  });

  it('NetworkPolicies: only the ingress reaches the proxy port, only the sidecar (and Jira nodes) reach Jira', () => {
    const pols = docs.filter(({ doc }) => doc?.kind === 'NetworkPolicy').map(({ doc }) => doc);
    const sidecar = pols.find((p) => p.spec.podSelector.matchLabels['app.kubernetes.io/name'] === 'jira-auth-sidecar')!;
    const proxyRule = (sidecar.spec.ingress as Doc[]).find((r) => r.ports.some((p: Doc) => p.port === 8090))!;
    expect(proxyRule.from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }]);
    expect((sidecar.spec.ingress as Doc[]).filter((r) => r.ports?.some((p: Doc) => p.port === 8091)).flatMap((r) => r.from)).not.toContainEqual(proxyRule.from[0]);
    const jira = pols.find((p) => p.spec.podSelector.matchLabels['app.kubernetes.io/name'] === 'jira')!;
    const jiraPort = (jira.spec.ingress as Doc[]).find((r) => r.ports?.some((p: Doc) => p.port === 8080))!;
    expect(jiraPort.from).toEqual([{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'jira-auth-sidecar' } } }]);
  });

  it('the example Secret is not applied by the kustomization', () => {
    const k = docs.find(({ file, doc }) => doc?.kind === 'Kustomization' && file.includes('base'))!.doc;
    expect(k.resources).not.toContain('secret.example.yaml');
  });
});

describe('systemd unit (deploy/systemd)', () => {
  const unitFile = path.join(ROOT, 'deploy', 'systemd', 'jira-auth-sidecar.service');
  const unit = readFileSync(unitFile, 'utf8');
  const has = (line: string) => unit.split('\n').map((l) => l.trim()).includes(line);

  it('is hardened: a dynamic user, a read-only system, no new privileges, its own state directory', () => {
    for (const l of ['DynamicUser=yes', 'ProtectSystem=strict', 'NoNewPrivileges=yes', 'StateDirectory=jira-auth-sidecar', 'ProtectHome=yes', 'PrivateTmp=yes', 'CapabilityBoundingSet=', 'Environment=SIDECAR_DATA_DIR=/var/lib/jira-auth-sidecar', 'ExecReload=/bin/kill -HUP $MAINPID']) {
      expect(has(l), l).toBe(true);
    }
    // V8 writes executable memory: MemoryDenyWriteExecute would stop node at start.
    expect(unit).not.toMatch(/^MemoryDenyWriteExecute=yes/m);
  });

  const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (analyze.status !== 0) noteMissing('systemd-analyze', 'deploy.test.ts (systemd unit verify)', 'apt-get install -y systemd');
  it.skipIf(analyze.status !== 0)(`passes systemd-analyze verify${analyze.status !== 0 ? ' (SKIPPED: systemd-analyze is not installed; apt-get install systemd to run it)' : ''}`, () => {
    // verify checks that ExecStart's binary exists: node is wherever this machine has it.
    const out = execFileSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).toBe('');
  });
});
