// E-mail over SMTP (nodemailer): one transport per notifications.email.smtpUrl, replaced when the
// URL changes. One attempt per message: an SMTP server queues and retries on its own, and a second
// attempt after an ambiguous failure would more likely send the message twice than help.
import nodemailer, { type Transporter } from 'nodemailer';

/** Timeouts of one SMTP conversation (connect, greeting, idle socket). */
const CONNECT_TIMEOUT_MS = 10_000;
const SOCKET_TIMEOUT_MS = 30_000;

export interface EmailMessage {
  from: string;
  to: string;
  subject: string;
  text: string;
  /** Headers that name what the message is about (X-Sidecar-Event, X-Sidecar-Token-Id). */
  headers?: Record<string, string>;
}

/** An SMTP URL fit for a log line or an error: its password (and any user) removed. */
export function redactSmtpUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    for (const k of [...u.searchParams.keys()]) if (/pass|secret|key|token/i.test(k)) u.searchParams.set(k, '***');
    return u.toString();
  } catch {
    return '(unparsable smtp url)';
  }
}

export class EmailSender {
  private transport: Transporter | undefined;
  private url: string | undefined;

  /** Sends one message through the transport for `smtpUrl`; rejects with a message free of the URL's password. */
  async send(smtpUrl: string, m: EmailMessage): Promise<void> {
    const transport = this.transportFor(smtpUrl);
    try {
      await transport.sendMail({ from: m.from, to: m.to, subject: m.subject, text: m.text, headers: m.headers });
    } catch (e) {
      throw new Error(withoutSecrets((e as Error).message ?? String(e), smtpUrl));
    }
  }

  close(): void {
    this.transport?.close();
    this.transport = undefined;
    this.url = undefined;
  }

  private transportFor(smtpUrl: string): Transporter {
    if (this.transport && this.url === smtpUrl) return this.transport;
    this.transport?.close();
    this.transport = nodemailer.createTransport({
      url: smtpUrl,
      connectionTimeout: CONNECT_TIMEOUT_MS,
      greetingTimeout: CONNECT_TIMEOUT_MS,
      socketTimeout: SOCKET_TIMEOUT_MS,
    });
    this.url = smtpUrl;
    return this.transport;
  }
}

/** An error text with the SMTP URL's user and password (raw and decoded) taken out. */
function withoutSecrets(message: string, smtpUrl: string): string {
  let out = message;
  try {
    const u = new URL(smtpUrl);
    for (const s of [u.password, decodeURIComponent(u.password)]) if (s.length >= 3) out = out.split(s).join('***');
  } catch {
    /* not a URL: nothing to take out */
  }
  return out;
}
