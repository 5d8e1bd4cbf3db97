/**
 * One advice form of the side panel: labelled inputs, dropdowns whose every value has a
 * label, a range check next to each number, and the advice with its guide sections.
 *
 * The form checks ranges (the notebook panels' own) before asking; everything else is
 * checked in Python (`advise_runtime` / `advise_deployment`), whose messages are shown
 * in the form's words.
 */
import { AdviceOptions, IOption } from './api';
import { IField, inFormWords, numberIn, rangeError } from './fields';
import { noMath } from './format';

type Submit = (
  body: Record<string, unknown>
) => Promise<Record<string, unknown>>;

let formCount = 0;

export class AdviceForm {
  readonly node: HTMLElement;

  constructor(
    readonly title: string,
    readonly formName: string,
    readonly fields: IField[],
    private _submit: Submit
  ) {
    this._id = `labadvisor-${formName}-${++formCount}`;
    const section = document.createElement('section');
    section.className = 'jp-labadvisor-section';
    section.dataset.form = formName;
    section.setAttribute('aria-labelledby', `${this._id}-title`);
    const heading = document.createElement('h3');
    heading.id = `${this._id}-title`;
    heading.textContent = title;
    this._form = document.createElement('form');
    this._form.className = 'jp-labadvisor-form';
    this._form.noValidate = true; // ranges are checked here, with the panels' words
    for (const field of fields) {
      this._form.append(this._row(field));
    }
    this._button = document.createElement('button');
    this._button.type = 'submit';
    this._button.className = 'jp-mod-styled jp-mod-accept';
    this._button.textContent = 'Advise';
    this._form.append(this._button);
    this._output = document.createElement('div');
    this._output.className = 'jp-labadvisor-output';
    this._output.setAttribute('aria-live', 'polite');
    this._form.addEventListener('submit', event => {
      event.preventDefault();
      void this.advise();
    });
    this._form.addEventListener('change', () => this._showDependent());
    this._showDependent();
    section.append(heading, this._form, this._output);
    this.node = section;
  }

  /** Fill the dropdowns with the server's choices (`GET advise/options`). */
  setOptions(options: AdviceOptions): void {
    const mine = options[this.formName] ?? {};
    for (const field of this.fields) {
      const choices = mine[field.name];
      if (
        (field.kind === 'choice' || field.kind === 'multi') &&
        choices &&
        choices.length > 0
      ) {
        field.choices = field.lead ? [field.lead, ...choices] : choices;
        this._fillSelect(field);
      }
    }
  }

  /** Check the inputs, then ask for advice and show it. */
  async advise(): Promise<void> {
    const { body, problems } = this._read();
    if (problems > 0) {
      this._markOutdated(
        `Not updated: fix the marked field${problems > 1 ? 's' : ''}.`
      );
      // The marked field may be scrolled out of the sidebar: go to it.
      const first = this._form.querySelector<HTMLElement>(
        '.jp-labadvisor-invalid input, .jp-labadvisor-invalid select'
      );
      first?.scrollIntoView({ block: 'center' });
      first?.focus();
      return;
    }
    this._button.disabled = true;
    try {
      const advice = await this._submit(body);
      this._output.replaceChildren();
      this._output.classList.remove('jp-labadvisor-outdated');
      renderAdvice(this._output, advice);
    } catch (error) {
      const { text, named } = inFormWords(
        (error as Error).message,
        this.fields
      );
      for (const name of named) {
        this._setFieldError(name, text);
      }
      this._markOutdated(text, true);
    } finally {
      this._button.disabled = false;
    }
  }

  private _row(field: IField): HTMLElement {
    const row = document.createElement('div');
    row.className = 'jp-labadvisor-field';
    row.dataset.field = field.name;
    const inputId = `${this._id}-${field.name}`;
    const errorNode = document.createElement('div');
    errorNode.className = 'jp-labadvisor-field-error';
    errorNode.id = `${inputId}-error`;
    errorNode.hidden = true;
    if (field.kind === 'multi') {
      this._multiRow(field, row, errorNode);
      return row;
    }
    if (field.kind === 'checkbox') {
      const label = document.createElement('label');
      label.className = 'jp-labadvisor-check';
      const input = document.createElement('input');
      input.type = 'checkbox';
      input.name = field.name;
      input.id = inputId;
      input.checked = Boolean(field.value);
      label.append(input, document.createTextNode(` ${field.label}`));
      row.append(label, errorNode);
      return row;
    }
    const label = document.createElement('label');
    label.htmlFor = inputId;
    label.textContent = field.label;
    let control: HTMLInputElement | HTMLSelectElement;
    if (field.kind === 'choice') {
      control = document.createElement('select');
      control.className = 'jp-mod-styled';
      this._selects.set(field.name, control);
    } else {
      const input = document.createElement('input');
      input.type = 'text';
      input.inputMode = field.kind === 'integer' ? 'numeric' : 'decimal';
      input.value = field.value === undefined ? '' : String(field.value);
      input.placeholder = field.placeholder ?? '';
      input.addEventListener('input', () => this._checkRange(field, input));
      control = input;
    }
    control.name = field.name;
    control.id = inputId;
    control.setAttribute('aria-describedby', errorNode.id);
    row.append(label, control);
    if (field.hint) {
      const hint = document.createElement('div');
      hint.className = 'jp-labadvisor-hint';
      hint.textContent = field.hint;
      row.append(hint);
    }
    row.append(errorNode);
    if (field.kind === 'choice') {
      this._fillSelect(field);
    }
    return row;
  }

  /** A list of choices as a group of checkboxes: long labels wrap, any number picked. */
  private _multiRow(
    field: IField,
    row: HTMLElement,
    errorNode: HTMLElement
  ): void {
    const group = document.createElement('fieldset');
    group.className = 'jp-labadvisor-multi';
    group.name = field.name;
    const legend = document.createElement('legend');
    legend.textContent = field.label;
    group.append(legend);
    this._groups.set(field.name, group);
    row.append(group, errorNode);
    this._fillGroup(field);
  }

  private _fillGroup(field: IField): void {
    const group = this._groups.get(field.name);
    if (!group) {
      return;
    }
    const picked = new Set(this._values(field));
    const boxes = (field.choices ?? []).map((choice, index) => {
      const label = document.createElement('label');
      label.className = 'jp-labadvisor-check';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.value = String(index);
      box.checked = picked.has(choice.value);
      label.append(box, document.createTextNode(` ${choice.label}`));
      return label;
    });
    group.replaceChildren(group.querySelector('legend')!, ...boxes);
  }

  private _fillSelect(field: IField): void {
    if (field.kind === 'multi') {
      this._fillGroup(field);
      return;
    }
    const select = this._selects.get(field.name);
    if (!select) {
      return;
    }
    const previous = select.selectedIndex >= 0 ? this._value(field) : undefined;
    const choices: IOption[] =
      field.choices ?? (field.lead ? [field.lead] : []);
    select.replaceChildren(
      ...choices.map((choice, index) => {
        const option = document.createElement('option');
        option.value = String(index);
        // Every value, "none" included, shows its label: never a blank box.
        option.textContent = choice.label || String(choice.value);
        option.dataset.value = JSON.stringify(choice.value);
        return option;
      })
    );
    const wanted = previous === undefined ? field.value : previous;
    const index = choices.findIndex(c => c.value === wanted);
    select.selectedIndex = index >= 0 ? index : 0;
  }

  private _value(field: IField): IOption['value'] {
    const select = this._selects.get(field.name)!;
    const choice = field.choices?.[select.selectedIndex] ?? field.lead;
    return choice ? choice.value : null;
  }

  /** The picked values of a list of choices. */
  private _values(field: IField): IOption['value'][] {
    const group = this._groups.get(field.name);
    if (!group) {
      return [];
    }
    return Array.from(
      group.querySelectorAll<HTMLInputElement>('input:checked')
    ).map(box => field.choices?.[Number(box.value)]?.value ?? null);
  }

  private _checkRange(field: IField, input: HTMLInputElement): string | null {
    const problem = rangeError(field, input.value.trim());
    this._setFieldError(field.name, problem);
    return problem;
  }

  private _setFieldError(name: string, problem: string | null): void {
    const row = this._form.querySelector<HTMLElement>(`[data-field="${name}"]`);
    if (!row) {
      return;
    }
    const errorNode = row.querySelector<HTMLElement>(
      '.jp-labadvisor-field-error'
    )!;
    const control = row.querySelector('input, select');
    row.classList.toggle('jp-labadvisor-invalid', problem !== null);
    errorNode.hidden = problem === null;
    errorNode.textContent = problem ?? '';
    if (problem === null) {
      control?.removeAttribute('aria-invalid');
    } else {
      control?.setAttribute('aria-invalid', 'true');
    }
  }

  /** Show each field that depends on a choice (`onlyWith`) only while that choice is
   * set: "It works" means nothing while nothing is running. */
  private _showDependent(): void {
    for (const field of this.fields) {
      const row = this._form.querySelector<HTMLElement>(
        `[data-field="${field.name}"]`
      );
      if (field.onlyWith && row) {
        row.hidden = !this._applies(field);
      }
    }
  }

  /** Whether `field` is an input of the question as set now (see `onlyWith`). */
  private _applies(field: IField): boolean {
    const on = this.fields.find(other => other.name === field.onlyWith);
    return on === undefined || this._value(on) !== null;
  }

  private _read(): { body: Record<string, unknown>; problems: number } {
    const body: Record<string, unknown> = {};
    let problems = 0;
    for (const field of this.fields) {
      this._setFieldError(field.name, null);
      if (!this._applies(field)) {
        continue; // hidden: not an input of this question
      }
      if (field.kind === 'choice') {
        body[field.name] = this._value(field);
        continue;
      }
      if (field.kind === 'multi') {
        const values = this._values(field);
        if (values.length > 0) {
          body[field.name] = values;
        }
        continue;
      }
      const input = this._form.elements.namedItem(
        field.name
      ) as HTMLInputElement;
      if (field.kind === 'checkbox') {
        body[field.name] = input.checked;
        continue;
      }
      const text = input.value.trim();
      if (this._checkRange(field, input) !== null) {
        problems++;
      } else if (text !== '') {
        body[field.name] = numberIn(field, text);
      }
    }
    return { body, problems };
  }

  /** Keep the last advice, dimmed and marked as not updated, under `message`. */
  private _markOutdated(message: string, fromServer = false): void {
    this._output.querySelector('.jp-labadvisor-error')?.remove();
    const note = document.createElement('p');
    note.className = 'jp-labadvisor-error';
    note.setAttribute('role', 'alert');
    note.textContent = message;
    note.dataset.from = fromServer ? 'server' : 'form';
    this._output.classList.toggle(
      'jp-labadvisor-outdated',
      this._output.childElementCount > 0
    );
    this._output.prepend(note);
  }

  private _id: string;
  private _form: HTMLFormElement;
  private _button: HTMLButtonElement;
  private _output: HTMLElement;
  private _selects = new Map<string, HTMLSelectElement>();
  private _groups = new Map<string, HTMLFieldSetElement>();
}

interface IReason {
  text: string;
  source?: string | null;
  effect?: string;
}

/** Show an advice's `to_dict()`: the choice, each reason with its guide section, the
 * warnings, then all of it. */
export function renderAdvice(
  output: HTMLElement,
  advice: Record<string, unknown>
): void {
  noMath(output);
  const choice = document.createElement('p');
  choice.className = 'jp-labadvisor-choice';
  choice.textContent = String(advice.choice_label ?? advice.choice);
  choice.dataset.choice = String(advice.choice);
  output.append(choice);
  // As the library prints advice: the deciding reason first, then those that agree or
  // inform, then the overridden ones under a heading that says they were not followed.
  const reasons = (advice.reasons ?? []) as IReason[];
  const followed = [
    ...reasons.filter(reason => reason.effect === 'decided'),
    ...reasons.filter(
      reason => reason.effect !== 'decided' && reason.effect !== 'overridden'
    )
  ];
  const overridden = reasons.filter(reason => reason.effect === 'overridden');
  if (followed.length > 0) {
    output.append(reasonList(followed));
  }
  if (overridden.length > 0) {
    const heading = document.createElement('p');
    heading.className = 'jp-labadvisor-not-followed';
    heading.textContent = 'Not followed (another rule decided):';
    output.append(heading, reasonList(overridden));
  }
  for (const warning of (advice.warnings ?? []) as string[]) {
    const item = document.createElement('p');
    item.className = 'jp-labadvisor-warning';
    item.textContent = `⚠ ${warning}`;
    output.append(item);
  }
  renderPlan(output, advice);
  const details = document.createElement('details');
  const caption = document.createElement('summary');
  caption.textContent = 'Details';
  const pre = document.createElement('pre');
  pre.textContent = JSON.stringify(advice, null, 2);
  details.append(caption, pre);
  output.append(details);
}

function reasonList(reasons: IReason[]): HTMLUListElement {
  const list = document.createElement('ul');
  list.className = 'jp-labadvisor-reasons';
  for (const reason of reasons) {
    const item = document.createElement('li');
    if (reason.effect) {
      item.dataset.effect = reason.effect;
    }
    const text = document.createElement('div');
    text.className = 'jp-labadvisor-reason-text';
    text.textContent = reason.text;
    item.append(text);
    if (reason.source) {
      const source = document.createElement('div');
      source.className = 'jp-labadvisor-source';
      source.textContent = `Guide: ${reason.source}`;
      item.append(source);
    }
    list.append(item);
  }
  return list;
}

interface IPlanStep {
  title: string;
  duration?: string | null;
  details?: string[];
  command?: string;
}

interface IPlan {
  source: string;
  target: string;
  steps?: IPlanStep[];
  checklist?: { item: string }[];
  rollback?: IPlanStep[];
}

/** A deployment advice's next steps and migration plan, as the notebook panel shows them:
 * each step with its duration where the guide gives one, the checklist and the way back. */
function renderPlan(
  output: HTMLElement,
  advice: Record<string, unknown>
): void {
  const next = (advice.next_steps ?? []) as IPlanStep[];
  const plan = advice.migration as IPlan | null | undefined;
  if (next.length > 0) {
    output.append(planSection('Next', next, 'ul'));
  }
  if (!plan) {
    return;
  }
  output.append(
    planSection(
      `Migration ${plan.source} → ${plan.target}`,
      plan.steps ?? [],
      'ol'
    )
  );
  const checklist = (plan.checklist ?? []).map(entry => ({
    title: entry.item
  }));
  if (checklist.length > 0) {
    output.append(planSection('Checklist', checklist, 'ul'));
  }
  if ((plan.rollback ?? []).length > 0) {
    output.append(planSection('Rollback', plan.rollback ?? [], 'ul'));
  }
}

function planSection(
  title: string,
  steps: IPlanStep[],
  kind: 'ol' | 'ul'
): HTMLElement {
  const section = document.createElement('div');
  section.className = 'jp-labadvisor-plan';
  const heading = document.createElement('p');
  heading.className = 'jp-labadvisor-plan-title';
  heading.textContent = title;
  const list = document.createElement(kind);
  for (const step of steps) {
    const item = document.createElement('li');
    item.textContent = step.duration
      ? `${step.title} (${step.duration})`
      : step.title;
    const lines = [
      ...(step.details ?? []),
      ...(step.command ? [step.command] : [])
    ];
    for (const line of lines) {
      const detail = document.createElement('div');
      detail.className = 'jp-labadvisor-source';
      detail.textContent = line;
      item.append(detail);
    }
    list.append(item);
  }
  section.append(heading, list);
  return section;
}
