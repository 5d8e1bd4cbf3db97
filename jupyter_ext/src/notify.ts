/**
 * Toasts that keep what to do.
 *
 * JupyterLab cuts a toast's message at 140 characters, and the server's messages put
 * the fix last ("… start Docker Offload with `docker offload start`"): a long message is
 * shown as its first clause and its fix, with a "Details" action for the whole text.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { noMath } from './format';

/** JupyterLab's own limit for a toast's message. */
export const TOAST_LIMIT = 140;

// A clause that says what to do: a command in backticks, or an imperative.
const FIX =
  /`[^`]+`|^(start|run|switch|install|sign|give|send|use|check|set|try|open|stop|pick|choose|ask|update|see)\b/i;

/** Split a message into clauses at "; " and sentence ends. */
function clauses(message: string): string[] {
  return message
    .split(/;\s+|\.\s+(?=[A-Z`])/)
    .map(part => part.trim().replace(/\.$/, ''))
    .filter(part => part.length > 0);
}

/** The clause of `message` that says what to do, if any. */
export function fixOf(message: string): string | null {
  const parts = clauses(message);
  for (let i = parts.length - 1; i > 0; i--) {
    if (FIX.test(parts[i])) {
      return parts[i];
    }
  }
  return null;
}

function cut(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1).trimEnd()}…`;
}

/** What the toast shows: the whole `message` when it fits, else its head and its fix
 * (without asides in parentheses where the fix would not fit whole), else the fix. */
export function toastText(title: string, message: string): string {
  const whole = title ? `${title}: ${message}` : message;
  if (whole.length <= TOAST_LIMIT) {
    return whole;
  }
  const fix = fixOf(message);
  if (fix === null) {
    return cut(whole, TOAST_LIMIT);
  }
  const head = clauses(message)[0] ?? message;
  const lead = title ? `${title}: ` : '';
  const fixes = [fix, fix.replace(/\s*\([^()]*\)/g, '')];
  for (const shown of fixes) {
    const room = TOAST_LIMIT - lead.length - ` … ${shown}`.length;
    if (room >= 20) {
      return `${lead}${cut(head, room)} … ${shown}`;
    }
  }
  for (const shown of fixes) {
    if (lead.length + shown.length <= TOAST_LIMIT) {
      return `${lead}${shown}`;
    }
  }
  return cut(`${lead}${fixes[1]}`, TOAST_LIMIT);
}

/** A dialog with the whole message. */
export function showDetails(title: string, message: string): void {
  const body = noMath(document.createElement('div'));
  body.className += ' jp-labadvisor-details';
  body.textContent = message;
  void showDialog({
    title,
    body: new Widget({ node: body }),
    buttons: [Dialog.okButton({ label: 'Close' })]
  });
}

export type ToastKind = 'error' | 'warning' | 'info' | 'success';

export interface IToastAction {
  label: string;
  callback: () => void;
}

/** Emit a toast whose text keeps the fix; a "Details" action when it had to be cut. */
export function toast(
  kind: ToastKind,
  title: string,
  message: string,
  options: { autoClose?: number | false; actions?: IToastAction[] } = {}
): string {
  const text = toastText(title, message);
  const actions: Notification.IAction[] = (options.actions ?? []).map(
    action => ({
      label: action.label,
      callback: action.callback,
      displayType: 'accent'
    })
  );
  if (text !== (title ? `${title}: ${message}` : message)) {
    actions.push({
      label: 'Details',
      caption: 'The whole message',
      callback: event => {
        event.preventDefault(); // keep the toast open behind the dialog
        showDetails(title || 'Lab Advisor', message);
      }
    });
  }
  return Notification.emit(text, kind === 'error' ? 'error' : kind, {
    autoClose: options.autoClose ?? (kind === 'error' ? false : 5000),
    actions
  });
}
