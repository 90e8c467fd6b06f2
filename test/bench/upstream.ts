// The Jira-like upstream as a child process for the benchmark (no request recording).
import { startJiraUpstream } from '../../src/demo/jira-upstream.js';

const up = await startJiraUpstream({ port: Number(process.env.PORT ?? 0), keepSeen: 0 });
process.stdout.write(`${JSON.stringify({ ready: true, port: up.port })}\n`);
for (const s of ['SIGTERM', 'SIGINT'] as const) process.on(s, () => process.exit(0));
