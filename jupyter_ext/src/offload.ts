/**
 * The Offload meter: while the server's Docker context, or the active notebook's
 * kernel's own, is an Offload one, how long it has run and what it costs (from
 * `GET usage`); a notification at 80 % and 100 % of a monthly budget, once each per
 * month; and a reminder when the Offload engine has run no container for a while.
 */
import { IContexts, IUsage } from './api';
import { moneyText, timeOf } from './format';
import { IToastAction } from './notify';
import { IMeter } from './status';

export interface IOffloadSettings {
  /** Dollars a month; 0 for no budget. */
  monthlyBudget: number;
  /** Minutes without a container before the reminder; 0 for none. */
  idleReminderMinutes: number;
}

/** Where the meter's notifications go (the plugin shows them as toasts). */
export interface IOffloadNotices {
  budget(level: 80 | 100, text: string): void;
  idle(text: string, actions: IToastAction[]): void;
}

export interface IOffloadActions {
  useLocal(): void;
  stopOffload(): void;
}

/** "YYYY-MM" of `time`, in local time: the month a budget is counted in. */
export function monthOf(time: number): string {
  const date = new Date(time);
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}`;
}

const BUDGET_KEY = 'labadvisor:budget-notified';

/** The Offload context in force for the active notebook, or null. */
export function offloadInForce(
  contexts: IContexts | null,
  activeKernelId: string | null
): {
  context: string;
  scope: 'kernel' | 'server';
  since: number | null;
} | null {
  if (!contexts) {
    return null;
  }
  const own = activeKernelId ? contexts.kernels?.[activeKernelId] : undefined;
  if (own) {
    return own.role === 'offload'
      ? {
          context: own.context,
          scope: 'kernel',
          since: timeOf(own.switched_at)
        }
      : null;
  }
  const current = contexts.current;
  return current && current.role === 'offload'
    ? { context: current.name, scope: 'server', since: null }
    : null;
}

export class OffloadWatch {
  constructor(
    private _settings: () => IOffloadSettings,
    private _notices: IOffloadNotices,
    private _actions: IOffloadActions,
    private _storage: Storage | null = globalThis.localStorage ?? null
  ) {}

  /**
   * The meter to show for this poll's answers (null: hide it), raising the budget and
   * idle notifications when due. `usage` is null when the server has no usage to give.
   */
  update(
    contexts: IContexts | null,
    activeKernelId: string | null,
    usage: IUsage | null,
    now: number = Date.now()
  ): IMeter | null {
    const inForce = offloadInForce(contexts, activeKernelId);
    if (usage) {
      this._checkBudget(usage, now);
    }
    if (!inForce) {
      this._seenSince = null;
      return null;
    }
    const offload = usage?.offload;
    const fromLedger = offload?.active ? timeOf(offload.since) : null;
    if (this._seenSince === null || this._seenContext !== inForce.context) {
      this._seenSince = now;
      this._seenContext = inForce.context;
    }
    if (offload?.active) {
      this._checkIdle(this._idleSince(offload, now), now);
    } else {
      this._idleSeen = null;
    }
    return {
      since: fromLedger ?? inForce.since ?? this._seenSince,
      // A rate of 0 is the ledger's "unknown" (it could not be read): no cost shown.
      rate:
        typeof offload?.rate === 'number' && offload.rate > 0
          ? offload.rate
          : null,
      context: inForce.context,
      costMonth:
        typeof offload?.cost_month === 'number' ? offload.cost_month : null,
      upperBound: Boolean(offload?.upper_bound)
    };
  }

  /** Since when Offload has been idle: the server's `idle_since` (since when its sampler
   * has seen the Offload engine run no container) where it has one, else the first poll
   * that found the session in Docker's "idle" state (which Docker enters when the session
   * has had no activity). */
  private _idleSince(
    offload: IUsage['offload'],
    now: number
  ): string | number | null {
    if (offload.idle_since !== undefined && offload.idle_since !== null) {
      this._idleSeen = null;
      return offload.idle_since;
    }
    if (offload.state !== 'idle') {
      this._idleSeen = null;
      return null;
    }
    this._idleSeen = this._idleSeen ?? now;
    return this._idleSeen;
  }

  private _checkBudget(usage: IUsage, now: number): void {
    const budget = this._settings().monthlyBudget;
    const cost = usage.offload.cost_month;
    if (!(budget > 0) || typeof cost !== 'number') {
      return;
    }
    const month = monthOf(now);
    const level: 0 | 80 | 100 =
      cost >= budget ? 100 : cost >= 0.8 * budget ? 80 : 0;
    const done = this._notified(month);
    if (level === 0 || level <= done) {
      return;
    }
    this._storage?.setItem(BUDGET_KEY, JSON.stringify({ month, level }));
    const text =
      level === 100
        ? `Offload budget: ${moneyText(cost)} spent this month, over your ${moneyText(budget)} budget. ` +
          'Use the local engine, or run `docker offload stop`.'
        : `Offload budget: ${moneyText(cost)} spent this month, ${Math.round((100 * cost) / budget)} % of your ${moneyText(budget)} budget.`;
    this._notices.budget(level, text);
  }

  /** The highest budget level already notified in `month`. */
  private _notified(month: string): number {
    try {
      const stored = JSON.parse(this._storage?.getItem(BUDGET_KEY) ?? 'null');
      return stored && stored.month === month ? Number(stored.level) : 0;
    } catch {
      return 0;
    }
  }

  private _checkIdle(
    idleSince: string | number | null | undefined,
    now: number
  ): void {
    const minutes = this._settings().idleReminderMinutes;
    const since = timeOf(idleSince);
    if (!(minutes > 0) || since === null) {
      return;
    }
    if (now - since < minutes * 60_000 || this._remindedFor === since) {
      return;
    }
    this._remindedFor = since;
    const idle = Math.round((now - since) / 60_000);
    this._notices.idle(
      `Docker Offload has run no container for ${idle} minutes, and a started session is billed while it runs.`,
      [
        { label: 'Use local Docker engine', callback: this._actions.useLocal },
        { label: 'Stop Offload', callback: this._actions.stopOffload }
      ]
    );
  }

  private _seenSince: number | null = null;
  private _seenContext: string | null = null;
  private _remindedFor: number | null = null;
  private _idleSeen: number | null = null;
}
