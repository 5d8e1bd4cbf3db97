/**
 * The side panel's inputs: the same ones, with the same labels, ranges and choices, as
 * the notebook panels (`labadvisor.widgets.RuntimePanel` / `DeploymentPanel`).
 *
 * Choices come from `GET advise/options` (the lists the panels, the magic and the CLI
 * use); the local GPU's and the "not given" entries are the panels' own.
 */
import { IOption } from './api';

/** A `multi` field is a list of choices (any number of them, sent as a list). */
export type FieldKind = 'number' | 'integer' | 'checkbox' | 'choice' | 'multi';

export interface IField {
  /** The adviser's keyword. */
  name: string;
  /** What the form says, and what error messages say instead of `name`. */
  label: string;
  kind: FieldKind;
  /** Default: a number as text, a checkbox's state, or a choice's value. */
  value?: string | boolean | number | null;
  placeholder?: string;
  /** Range of a number, as the panels' FieldRange. */
  min?: number;
  max?: number;
  /** True when `min` itself is not allowed (parameters must be greater than 0). */
  strictMin?: boolean;
  /** Choices known here; `GET advise/options` adds or replaces them by `name`. */
  choices?: IOption[];
  /** A choice put first, before the server's list (e.g. "not given"). */
  lead?: IOption;
  hint?: string;
  /** A unit the field also takes after the number ("13GB", "7B"), as the CLI does. */
  unit?: string;
  /** Shown (and sent) only while this choice field has a value other than "none". */
  onlyWith?: string;
}

/** The panels' local GPU choices (RuntimePanel's GPU_OPTIONS). */
const GPU_CHOICES: IOption[] = [
  { label: "detect the server's GPU", value: 'auto' },
  { label: 'no local GPU', value: null },
  ...[8, 12, 16, 24, 48, 80].map(free => ({
    label: `local GPU, ${free} GB free`,
    value: free
  }))
];

export const RUNTIME_FIELDS: IField[] = [
  {
    name: 'model_size_gb',
    label: 'Model size (GB)',
    kind: 'number',
    unit: 'GB',
    placeholder: 'e.g. 14',
    min: 0,
    max: 10_000
  },
  {
    name: 'params_b',
    label: 'Parameters (B)',
    kind: 'number',
    unit: 'B',
    placeholder: 'or e.g. 7',
    min: 0,
    max: 10_000,
    strictMin: true
  },
  {
    name: 'preset',
    label: 'Preset',
    kind: 'choice',
    value: null,
    lead: { label: 'none (size or parameters above)', value: null }
  },
  { name: 'dtype', label: 'Precision', kind: 'choice', value: 'fp16' },
  {
    name: 'context_tokens',
    label: 'Context (tokens)',
    kind: 'integer',
    placeholder: "the preset's full context",
    min: 0,
    max: 10_000_000
  },
  {
    name: 'batch_size',
    label: 'Batch size',
    kind: 'integer',
    value: '1',
    min: 1,
    max: 10_000
  },
  { name: 'task', label: 'Task', kind: 'choice', value: 'inference' },
  {
    name: 'workload',
    label: 'Workload',
    kind: 'choice',
    value: null,
    lead: { label: 'not given (assumed from the task)', value: null }
  },
  {
    name: 'gpu',
    label: 'Local GPU',
    kind: 'choice',
    value: 'auto',
    choices: GPU_CHOICES
  },
  {
    name: 'hardware',
    label: 'Local option',
    kind: 'choice',
    value: null,
    choices: [{ label: 'what the GPU check found', value: null }]
  },
  {
    name: 'hours_per_day',
    label: 'Offload hours/day',
    kind: 'number',
    placeholder: 'not given',
    min: 0,
    max: 24
  },
  {
    name: 'team_size',
    label: 'Team size',
    kind: 'integer',
    value: '1',
    min: 1,
    max: 10_000
  },
  {
    name: 'sensitive',
    label: 'Sensitive code (must stay local)',
    kind: 'checkbox',
    value: false
  },
  {
    name: 'offline',
    label: 'Offline (air-gapped)',
    kind: 'checkbox',
    value: false
  },
  {
    name: 'interactive',
    label: 'Interactive (latency-sensitive completion)',
    kind: 'checkbox',
    value: false
  }
];

export const DEPLOYMENT_FIELDS: IField[] = [
  {
    name: 'users',
    label: 'Users',
    kind: 'integer',
    value: '20',
    min: 1,
    max: 100_000
  },
  {
    name: 'concurrent_users',
    label: 'Online at once',
    kind: 'integer',
    placeholder: 'not known',
    min: 1,
    max: 100_000
  },
  {
    name: 'expected_users',
    label: 'Users next year',
    kind: 'integer',
    placeholder: 'not known',
    min: 1,
    max: 100_000
  },
  {
    name: 'nodes',
    label: 'Nodes',
    kind: 'integer',
    value: '1',
    min: 1,
    max: 1_000
  },
  {
    name: 'high_availability',
    label: 'High availability needed',
    kind: 'checkbox',
    value: false
  },
  {
    name: 'gpu_sharing',
    label: 'GPU sharing',
    kind: 'choice',
    value: null,
    choices: [
      { label: 'none', value: null },
      { label: 'mig', value: 'mig' },
      { label: 'time-slicing', value: 'time-slicing' }
    ]
  },
  {
    name: 'gpu',
    label: 'GPU model',
    kind: 'choice',
    value: null,
    choices: [{ label: 'not stated', value: null }]
  },
  {
    name: 'migration_triggers',
    label: 'Triggers seen',
    kind: 'multi'
  },
  {
    name: 'kubernetes_experience',
    label: 'Kubernetes experience',
    kind: 'choice',
    value: null,
    choices: [
      { label: 'not stated', value: null },
      { label: 'yes', value: true },
      { label: 'no', value: false }
    ]
  },
  {
    name: 'current',
    label: 'Running now',
    kind: 'choice',
    value: null,
    choices: [
      { label: 'nothing yet', value: null },
      { label: 'Docker Compose', value: 'docker-compose' },
      { label: 'K3s (Kubernetes)', value: 'k3s' }
    ]
  },
  {
    name: 'current_ok',
    label: 'It works (no need to leave it)',
    kind: 'choice',
    onlyWith: 'current',
    value: true,
    choices: [
      { label: 'yes, it works', value: true },
      { label: 'no, it is not working', value: false }
    ]
  },
  {
    name: 'prefer',
    label: 'Preference',
    kind: 'choice',
    value: null,
    choices: [{ label: 'no preference', value: null }]
  },
  {
    name: 'ops_hourly_rate',
    label: 'Ops rate (USD/h)',
    kind: 'number',
    placeholder: "the guide's",
    min: 0,
    max: 10_000
  },
  {
    name: 'server_monthly',
    label: 'Server (USD/month)',
    kind: 'number',
    placeholder: "the guide's",
    min: 0,
    max: 1_000_000
  }
];

/** 10,000 and 0.5, as the notebook panels write a range's ends. */
function rangeNumber(value: number): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: 6 });
}

/**
 * Why a typed number is not allowed, in the form's words; null when it is. Worded as the
 * notebook panels word it ("Model size (GB) must be between 0 and 10,000; got -5").
 */
export function rangeError(field: IField, text: string): string | null {
  if (text === '') {
    return null;
  }
  const value = numberIn(field, text);
  const range =
    field.min !== undefined && field.max !== undefined
      ? field.strictMin
        ? `greater than ${rangeNumber(field.min)} and at most ${rangeNumber(field.max)}`
        : `between ${rangeNumber(field.min)} and ${rangeNumber(field.max)}`
      : '';
  if (!Number.isFinite(value)) {
    return `${field.label} must be a number${range ? ` ${range}` : ''}; got "${text}"`;
  }
  if (field.kind === 'integer' && !Number.isInteger(value)) {
    return `${field.label} must be a whole number${range ? ` ${range}` : ''}; got ${text}`;
  }
  const low =
    field.min !== undefined &&
    (field.strictMin ? value <= field.min : value < field.min);
  const high = field.max !== undefined && value > field.max;
  if (low || high) {
    return `${field.label} must be ${range}; got ${text}`;
  }
  return null;
}

// A plain decimal number: Number() would also take "0x10", "0b1" and "Infinity".
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** The number typed in `field` ("13", "13GB" where the field's unit is GB); NaN when the
 * text is not a plain decimal number. */
export function numberIn(field: IField, text: string): number {
  let digits = text.trim();
  if (field.unit && digits.toLowerCase().endsWith(field.unit.toLowerCase())) {
    digits = digits.slice(0, -field.unit.length).trim();
  }
  return DECIMAL.test(digits) ? Number(digits) : NaN;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A server message in the form's words: each field's keyword becomes its label, and in
 * a list of valid values a `None` becomes what the form calls it. Also returns the
 * fields it names, so the form can mark them.
 */
export function inFormWords(
  message: string,
  fields: IField[]
): { text: string; named: string[] } {
  let text = message;
  const named: string[] = [];
  for (const field of fields) {
    const pattern = new RegExp(
      `(?<![\\w-])${escapeRegExp(field.name)}(?![\\w-])`,
      'g'
    );
    if (pattern.test(text)) {
      named.push(field.name);
      text = text.replace(pattern, `“${field.label}”`);
      const none = field.choices?.find(c => c.value === null) ?? field.lead;
      if (none && none.value === null) {
        text = text.replace(
          /(valid [\w ]+: )([^;]*)/g,
          (_all, lead: string, list: string) =>
            lead + list.replace(/\bNone\b/g, none.label)
        );
      }
    }
  }
  return { text, named };
}
