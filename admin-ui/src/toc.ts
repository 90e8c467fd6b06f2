// A long form cut into sections with an in-page table of contents (issue 22: Authentication was
// 3,800 px of flat fields). Each link jumps to its section and moves the focus to its heading; the
// section being read is marked aria-current while the page scrolls. The links are also deep links
// (#/<page>?section=<id>), read when the page opens; a click does not go through the hash router.
import { html, nothing, type TemplateResult } from 'lit';

export interface TocSection {
  id: string;
  /** The section's heading. */
  title: string;
  /** The link text, when shorter than the heading. */
  short?: string;
}

interface Host {
  requestUpdate(): void;
  querySelector<E extends Element = Element>(selector: string): E | null;
}

/** A section counts as being read once its top is above this line (px from the top of the window). */
const READ_LINE = 140;

export class SectionNav {
  current: string;
  /** After a jump, the section jumped to stays current until the page is scrolled away from it. */
  private pinned: { id: string; y: number } | null = null;
  private frame = 0;
  private readonly onScroll = () => {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.track();
    });
  };

  constructor(
    private readonly host: Host,
    private readonly page: string,
    readonly sections: readonly TocSection[],
  ) {
    this.current = sections[0]!.id;
  }

  attach(): void {
    window.addEventListener('scroll', this.onScroll, { passive: true });
  }

  detach(): void {
    window.removeEventListener('scroll', this.onScroll);
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
  }

  /** The section named in the address (#/<page>?section=<id>), if any. */
  requested(): string | null {
    const id = new URLSearchParams(location.hash.split('?')[1] ?? '').get('section');
    return this.sections.some((s) => s.id === id) ? id : null;
  }

  /** Scroll the section to the top, focus its heading (for keyboard and screen-reader users), mark it current. */
  jump(id: string): void {
    const el = this.host.querySelector<HTMLElement>(`#${id}`);
    if (!el) return;
    el.scrollIntoView({ block: 'start' });
    this.host.querySelector<HTMLElement>(`#${id}-h`)?.focus({ preventScroll: true });
    history.replaceState(history.state, '', `#/${this.page}?section=${id}`);
    this.pinned = { id, y: window.scrollY };
    this.setCurrent(id);
  }

  /** Mark the section being read: the last one whose top passed READ_LINE, or the last one at the very bottom. */
  track(): void {
    if (this.pinned && Math.abs(window.scrollY - this.pinned.y) < 40) return;
    this.pinned = null;
    const els = this.sections.map((s) => this.host.querySelector<HTMLElement>(`#${s.id}`));
    if (els.some((el) => !el)) return; // not drawn yet
    let id = this.sections[0]!.id;
    els.forEach((el, i) => {
      if (el!.getBoundingClientRect().top <= READ_LINE) id = this.sections[i]!.id;
    });
    const atBottom = window.scrollY > 0 && window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 2;
    if (atBottom) id = this.sections[this.sections.length - 1]!.id;
    this.setCurrent(id);
  }

  private setCurrent(id: string): void {
    if (this.current === id) return;
    this.current = id;
    this.host.requestUpdate();
  }

  renderToc(): TemplateResult {
    return html`<nav class="toc" aria-label="Sections on this page">
      <h2 class="toc-h">On this page</h2>
      <ul>
        ${this.sections.map(
          (s) => html`<li><a href=${`#/${this.page}?section=${s.id}`} data-section=${s.id} aria-current=${s.id === this.current ? 'true' : nothing}
            @click=${(e: MouseEvent) => {
              if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return; // a new tab or window: the deep link
              e.preventDefault();
              this.jump(s.id);
            }}>${s.short ?? s.title}</a></li>`,
        )}
      </ul>
    </nav>`;
  }

  /** One section: a region named by its heading, which the table of contents focuses. */
  section(id: string, body: TemplateResult): TemplateResult {
    const s = this.sections.find((x) => x.id === id)!;
    return html`<section class="form-section" id=${id} aria-labelledby=${`${id}-h`}>
      <h2 id=${`${id}-h`} tabindex="-1">${s.title}</h2>
      ${body}
    </section>`;
  }
}
