// Vite turns a CSS import into a stylesheet file linked from index.html.
declare module '*.css';
