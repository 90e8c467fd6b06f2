// Small text helpers shared by the pages: counts with thousands separators, plurals, times, periods.

/** 1204 -> "1,204" (the same separators whatever the browser's locale, so tests and screenshots read alike). */
export const num = (n: number): string => n.toLocaleString('en-US');

/** (1, 'user') -> "1 user"; (14, 'user') -> "14 users"; an irregular plural is passed as `many`. */
export const plural = (n: number, one: string, many = `${one}s`): string => `${num(n)} ${n === 1 ? one : many}`;

const pad = (n: number) => String(n).padStart(2, '0');

/** ISO instant -> local "2026-03-04 14:05" (or "—" for none). */
export function when(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The periods the rollout pages offer, as the API spells them, and how a sentence says them. */
export const PERIODS = [
  ['24h', 'the last 24 hours', 'Last 24 hours'],
  ['7d', 'the last 7 days', 'Last 7 days'],
  ['30d', 'the last 30 days', 'Last 30 days'],
] as const;
export type Period = (typeof PERIODS)[number][0];

export const periodText = (p: string): string => PERIODS.find(([k]) => k === p)?.[1] ?? `the last ${p}`;

/** The query part of the location hash ("#/audit?user=bob" -> {user: "bob"}). */
export function hashQuery(hash = location.hash): URLSearchParams {
  const q = hash.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
}
