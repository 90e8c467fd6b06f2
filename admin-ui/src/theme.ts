// Light or dark: the browser's preference (prefers-color-scheme) unless the admin chose one with the
// header's toggle, remembered in localStorage and set as <html data-theme> (styles.css reads it).

export const THEME_KEY = 'jira-auth-sidecar.theme';
export type Theme = 'light' | 'dark';

const media = () => window.matchMedia?.('(prefers-color-scheme: dark)');

/** The theme the admin chose, if any. */
export function chosenTheme(): Theme | null {
  try {
    const v = localStorage.getItem(THEME_KEY);
    return v === 'light' || v === 'dark' ? v : null;
  } catch {
    return null;
  }
}

/** The theme in effect: the choice, else the browser's preference. */
export function currentTheme(): Theme {
  return chosenTheme() ?? (media()?.matches ? 'dark' : 'light');
}

/** Sets <html data-theme> from the stored choice (none: the CSS follows prefers-color-scheme). */
export function applyTheme(): void {
  const t = chosenTheme();
  if (t) document.documentElement.dataset.theme = t;
  else delete document.documentElement.dataset.theme;
}

/** Remembers a choice and applies it. */
export function chooseTheme(t: Theme): void {
  try {
    localStorage.setItem(THEME_KEY, t);
  } catch {
    // Private mode without storage: the choice lasts for this page.
  }
  document.documentElement.dataset.theme = t;
}

/** Calls f when the browser's preference changes. */
export function onSystemThemeChange(f: () => void): void {
  media()?.addEventListener?.('change', f);
}
