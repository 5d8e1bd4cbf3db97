/**
 * Lab Advisor side panel: who holds the GPU's memory, then the runtime and deployment
 * advice forms, with the notebook panels' inputs and choices.
 */
import { Widget } from '@lumino/widgets';

import { IGpuProcesses, LabAdvisorClient } from './api';
import { DEPLOYMENT_FIELDS, RUNTIME_FIELDS } from './fields';
import { AdviceForm } from './form';
import { noMath } from './format';
import { GpuHolders, IHolderActions } from './holders';

export class LabAdvisorPanel extends Widget {
  constructor(client: LabAdvisorClient, actions: IHolderActions) {
    super();
    this._client = client;
    this.id = 'labadvisor-panel';
    this.addClass('jp-labadvisor-panel');
    noMath(this.node);
    this.title.caption = 'Lab Advisor';
    const header = document.createElement('h2');
    header.textContent = 'Lab Advisor';
    this._holders = new GpuHolders(actions);
    this._forms = [
      new AdviceForm(
        'Where should this run?',
        'runtime',
        RUNTIME_FIELDS.map(f => ({ ...f })),
        body => client.adviseRuntime(body)
      ),
      new AdviceForm(
        'How should the lab be deployed?',
        'deployment',
        DEPLOYMENT_FIELDS.map(f => ({ ...f })),
        body => client.adviseDeployment(body)
      )
    ];
    this.node.append(
      header,
      this._holders.node,
      ...this._forms.map(form => form.node)
    );
    void this._loadOptions();
  }

  /** The GPU holders, as the status bar's poll read them. */
  showHolders(report: IGpuProcesses): void {
    this._holders.show(report);
  }

  showHoldersError(message: string): void {
    this._holders.showError(message);
  }

  /** Fill the dropdowns with the server's choices, with their labels. */
  private async _loadOptions(): Promise<void> {
    try {
      const options = await this._client.adviceOptions();
      for (const form of this._forms) {
        form.setOptions(options);
      }
    } catch (error) {
      console.error('labadvisor: could not read the advice options', error);
    }
  }

  private _client: LabAdvisorClient;
  private _holders: GpuHolders;
  private _forms: AdviceForm[];
}
