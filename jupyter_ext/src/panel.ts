/**
 * Lab Advisor side panel: the runtime and deployment advice forms.
 *
 * The forms only collect values and post them; validation and advice happen in
 * Python (`labadvisor.advise_runtime` / `labadvisor.advise_deployment`), whose
 * messages are shown as they come back.
 */
import { Widget } from '@lumino/widgets';

import { AdviceOptions, LabAdvisorClient } from './api';

type FieldKind = 'number' | 'integer' | 'text' | 'checkbox' | 'tristate';

interface IField {
  name: string;
  label: string;
  kind: FieldKind;
  value?: string | boolean;
  placeholder?: string;
  /** Words that mean "none": sent as JSON null. */
  nullWords?: string[];
}

const RUNTIME_FIELDS: IField[] = [
  {
    name: 'model_size_gb',
    label: 'Model size (GB)',
    kind: 'number',
    placeholder: 'e.g. 14'
  },
  {
    name: 'params_b',
    label: 'or parameters (billions)',
    kind: 'number',
    placeholder: 'e.g. 7'
  },
  { name: 'dtype', label: 'Precision', kind: 'text', value: 'fp16' },
  { name: 'workload', label: 'Workload', kind: 'text', value: 'completion' },
  {
    name: 'gpu',
    label: 'GPU',
    kind: 'text',
    value: 'auto',
    placeholder: 'auto, none or free GB',
    nullWords: ['none', 'no']
  },
  { name: 'hours_per_day', label: 'Hours per day', kind: 'number' },
  { name: 'team_size', label: 'Team size', kind: 'integer', value: '1' },
  { name: 'sensitive', label: 'Sensitive data', kind: 'checkbox', value: false }
];

const DEPLOYMENT_FIELDS: IField[] = [
  { name: 'users', label: 'Users', kind: 'integer', value: '10' },
  { name: 'nodes', label: 'Nodes', kind: 'integer', value: '1' },
  {
    name: 'high_availability',
    label: 'High availability',
    kind: 'checkbox',
    value: false
  },
  {
    name: 'gpu_sharing',
    label: 'GPU sharing',
    kind: 'text',
    placeholder: 'none'
  },
  {
    name: 'kubernetes_experience',
    label: 'Kubernetes experience',
    kind: 'tristate'
  },
  { name: 'current', label: 'Current deployment', kind: 'text' }
];

function makeForm(
  title: string,
  formName: string,
  fields: IField[],
  submit: (body: Record<string, unknown>) => Promise<Record<string, unknown>>
): HTMLElement {
  const section = document.createElement('section');
  section.className = 'jp-labadvisor-section';
  section.dataset.form = formName;
  const heading = document.createElement('h3');
  heading.textContent = title;
  const form = document.createElement('form');
  form.className = 'jp-labadvisor-form';
  for (const field of fields) {
    const label = document.createElement('label');
    const caption = document.createElement('span');
    caption.textContent = field.label;
    if (field.kind === 'tristate') {
      const select = document.createElement('select');
      select.name = field.name;
      for (const [value, text] of [
        ['', 'not said'],
        ['true', 'yes'],
        ['false', 'no']
      ]) {
        const option = document.createElement('option');
        option.value = value;
        option.textContent = text;
        select.append(option);
      }
      label.append(caption, select);
      form.append(label);
      continue;
    }
    const input = document.createElement('input');
    input.name = field.name;
    if (field.kind === 'checkbox') {
      input.type = 'checkbox';
      input.checked = Boolean(field.value);
    } else {
      input.type = field.kind === 'text' ? 'text' : 'number';
      input.step = field.kind === 'integer' ? '1' : 'any';
      input.value = (field.value as string) ?? '';
      input.placeholder = field.placeholder ?? '';
      input.setAttribute('list', `labadvisor-${formName}-${field.name}`);
    }
    label.append(caption, input);
    form.append(label);
  }
  const button = document.createElement('button');
  button.type = 'submit';
  button.className = 'jp-mod-styled jp-mod-accept';
  button.textContent = 'Advise';
  form.append(button);
  const output = document.createElement('div');
  output.className = 'jp-labadvisor-output';

  form.addEventListener('submit', async event => {
    event.preventDefault();
    const body: Record<string, unknown> = {};
    for (const field of fields) {
      const input = form.elements.namedItem(field.name) as HTMLInputElement;
      const value = input.value.trim();
      if (field.kind === 'checkbox') {
        body[field.name] = input.checked;
      } else if (field.kind === 'tristate') {
        body[field.name] = value === '' ? null : value === 'true';
      } else if (field.nullWords?.includes(value.toLowerCase())) {
        body[field.name] = null;
      } else if (value !== '') {
        body[field.name] = field.kind === 'text' ? value : Number(value);
      }
    }
    button.disabled = true;
    output.replaceChildren();
    try {
      const advice = await submit(body);
      renderAdvice(output, advice);
    } catch (error) {
      const message = document.createElement('p');
      message.className = 'jp-labadvisor-error';
      message.textContent = (error as Error).message;
      output.append(message);
    } finally {
      button.disabled = false;
    }
  });
  section.append(heading, form, output);
  return section;
}

/** Show an advice's `to_dict()`: the choice, the reasons, the warnings, then all of it. */
function renderAdvice(
  output: HTMLElement,
  advice: Record<string, unknown>
): void {
  const choice = document.createElement('p');
  choice.className = 'jp-labadvisor-choice';
  choice.textContent = String(advice.choice_label ?? advice.choice);
  choice.dataset.choice = String(advice.choice);
  output.append(choice);
  const reasons = (advice.reasons ?? []) as { text: string; source: string }[];
  if (reasons.length > 0) {
    const list = document.createElement('ul');
    list.className = 'jp-labadvisor-reasons';
    for (const reason of reasons) {
      const item = document.createElement('li');
      item.textContent = reason.text;
      item.title = reason.source;
      list.append(item);
    }
    output.append(list);
  }
  for (const warning of (advice.warnings ?? []) as string[]) {
    const item = document.createElement('p');
    item.className = 'jp-labadvisor-warning';
    item.textContent = `⚠ ${warning}`;
    output.append(item);
  }
  const details = document.createElement('details');
  const caption = document.createElement('summary');
  caption.textContent = 'Details';
  const pre = document.createElement('pre');
  pre.textContent = JSON.stringify(advice, null, 2);
  details.append(caption, pre);
  output.append(details);
}

export class LabAdvisorPanel extends Widget {
  constructor(client: LabAdvisorClient) {
    super();
    this._client = client;
    this.id = 'labadvisor-panel';
    this.addClass('jp-labadvisor-panel');
    this.title.caption = 'Lab Advisor';
    const header = document.createElement('h2');
    header.textContent = 'Lab Advisor';
    this.node.append(
      header,
      makeForm('Where should this run?', 'runtime', RUNTIME_FIELDS, body =>
        client.adviseRuntime(body)
      ),
      makeForm(
        'How should the lab be deployed?',
        'deployment',
        DEPLOYMENT_FIELDS,
        body => client.adviseDeployment(body)
      )
    );
    void this._loadOptions();
  }

  /** Offer the server's valid values, with their labels, as suggestions on the text
   * fields. A choice whose value is null means "leave the field empty". */
  private async _loadOptions(): Promise<void> {
    let options: AdviceOptions;
    try {
      options = await this._client.adviceOptions();
    } catch {
      return;
    }
    for (const [formName, fields] of Object.entries(options)) {
      for (const [field, choices] of Object.entries(fields)) {
        const list = document.createElement('datalist');
        list.id = `labadvisor-${formName}-${field}`;
        for (const choice of choices) {
          if (choice.value === null) {
            continue;
          }
          const option = document.createElement('option');
          option.value = String(choice.value);
          option.label = choice.label;
          list.append(option);
        }
        this.node.append(list);
      }
    }
  }

  private _client: LabAdvisorClient;
}
