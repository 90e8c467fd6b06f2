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

/** The browser's time zone as a short name ("UTC", "CET", "GMT+2"). */
export function zoneName(d = new Date()): string {
  return new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? 'local time';
}

/** ISO instant -> local "2026-03-04 14:05:09 CET" with the time zone (or "—" for none). */
export function whenZ(iso: string | null | undefined, seconds = false): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${when(iso)}${seconds ? `:${pad(d.getSeconds())}` : ''} ${zoneName(d)}`;
}

/** Seconds -> "3 d 4 h", "5 h 2 min", "4 min 10 s", "12 s". */
export function duration(sec: number): string {
  const s = Math.max(0, Math.floor(sec));
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  if (m) return `${m} min ${s % 60} s`;
  return `${s} s`;
}

/** How long before `now` an instant was: "12 s ago", "5 min 2 s ago". */
export function ago(iso: string | null | undefined, now: string | number = Date.now()): string {
  if (!iso) return 'never';
  const t = new Date(iso).getTime();
  const n = typeof now === 'number' ? now : new Date(now).getTime();
  return `${duration((n - t) / 1000)} ago`;
}
