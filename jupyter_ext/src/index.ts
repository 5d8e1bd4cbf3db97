import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { LabIcon } from '@jupyterlab/ui-components';
import { Poll } from '@lumino/polling';

import { LabAdvisorClient } from './api';
// The panel sits in the left sidebar from the start, so activation needs it at once.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { LabAdvisorPanel } from './panel';
import { LabAdvisorStatus } from './status';

const PLUGIN_ID = 'labadvisor:plugin';

export namespace CommandIDs {
  export const useLocal = 'labadvisor:use-local';
  export const useOffload = 'labadvisor:use-offload';
  export const open = 'labadvisor:open';
}

/** The commands take no arguments; the command palette and the docs read this. */
const NO_ARGS = { args: { type: 'object', properties: {} } };

const advisorIcon = new LabIcon({
  name: 'labadvisor:icon',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
    '<path class="jp-icon3" fill="#616161" d="M4 4h16v4H4zm0 6h10v4H4zm0 6h16v4H4zm12-6h4v4h-4z"/>' +
    '</svg>'
});

interface ISettings {
  pollInterval: number;
  showGpu: boolean;
  showContext: boolean;
}

const DEFAULTS: ISettings = {
  pollInterval: 10,
  showGpu: true,
  showContext: true
};

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'GPU and Docker context in the status bar, context switching commands and a Lab Advisor panel.',
  autoStart: true,
  optional: [IStatusBar, ICommandPalette, ISettingRegistry, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    statusBar: IStatusBar | null,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    restorer: ILayoutRestorer | null
  ) => {
    const settings: ISettings = { ...DEFAULTS };
    const client = new LabAdvisorClient(app.serviceManager.serverSettings);
    const status = new LabAdvisorStatus();

    const refresh = async (): Promise<void> => {
      const [gpu, contexts] = await Promise.allSettled([
        settings.showGpu ? client.gpu() : Promise.resolve(null),
        settings.showContext ? client.contexts() : Promise.resolve(null)
      ]);
      if (gpu.status === 'fulfilled' && gpu.value) {
        status.showGpu(gpu.value);
      } else if (gpu.status === 'rejected') {
        status.showError('gpu', String((gpu.reason as Error).message));
      }
      if (contexts.status === 'fulfilled' && contexts.value) {
        status.showContexts(contexts.value);
      } else if (contexts.status === 'rejected') {
        status.showError('context', String((contexts.reason as Error).message));
      }
      if (gpu.status === 'rejected' && contexts.status === 'rejected') {
        throw gpu.reason; // the server is unreachable: let the poll back off
      }
    };

    // Poll.standby 'when-hidden' pauses polling while the page is hidden.
    const poll = new Poll({
      auto: false,
      factory: refresh,
      frequency: {
        interval: DEFAULTS.pollInterval * 1000,
        backoff: true,
        max: 300 * 1000
      },
      name: 'labadvisor:status',
      standby: 'when-hidden'
    });

    const applySettings = (): void => {
      status.setVisibleParts(settings.showGpu, settings.showContext);
      poll.frequency = {
        ...poll.frequency,
        interval: Math.max(1, settings.pollInterval) * 1000
      };
      void poll.refresh();
    };

    if (statusBar) {
      statusBar.registerStatusItem(PLUGIN_ID, {
        item: status,
        align: 'left',
        rank: 100,
        isActive: () => settings.showGpu || settings.showContext
      });
    }

    // The server resolves the role ("local" / "offload") to a context and checks its engine.
    const switchTo = async (role: 'local' | 'offload', label: string) => {
      try {
        const result = await client.useContext(role);
        status.showContexts(result);
        Notification.success(
          result.summary ?? `Docker work now goes to ${label}`,
          {
            autoClose: 5000
          }
        );
      } catch (error) {
        Notification.error(
          `Could not switch to ${label}: ${(error as Error).message}`,
          {
            autoClose: false
          }
        );
      } finally {
        void poll.refresh();
      }
    };

    // Shown only once the server says switching is allowed: an operator can turn it off
    // (c.LabAdvisor.allow_context_switch = False), and then the commands are hidden.
    let switchAllowed = false;
    app.commands.addCommand(CommandIDs.useLocal, {
      label: 'Use local Docker engine',
      caption: 'Switch the Docker context to the local engine (all kernels)',
      describedBy: NO_ARGS,
      isVisible: () => switchAllowed,
      isEnabled: () => switchAllowed,
      execute: () => switchTo('local', 'the local engine')
    });
    app.commands.addCommand(CommandIDs.useOffload, {
      label: 'Use Docker Offload',
      caption: 'Switch the Docker context to Docker Offload (all kernels)',
      describedBy: NO_ARGS,
      isVisible: () => switchAllowed,
      isEnabled: () => switchAllowed,
      execute: () => switchTo('offload', 'Docker Offload')
    });

    let panel: LabAdvisorPanel | null = null;
    const openPanel = (): LabAdvisorPanel => {
      if (!panel || panel.isDisposed) {
        panel = new LabAdvisorPanel(client);
        panel.title.icon = advisorIcon;
        app.shell.add(panel, 'left', { rank: 900 });
        if (restorer) {
          restorer.add(panel, panel.id);
        }
      }
      return panel;
    };
    app.commands.addCommand(CommandIDs.open, {
      label: 'Open Lab Advisor',
      caption: 'Runtime and deployment advice',
      describedBy: NO_ARGS,
      execute: () => {
        app.shell.activateById(openPanel().id);
      }
    });
    // The panel lives in the left sidebar from the start, like the file browser.
    openPanel();

    const category = 'Lab Advisor';
    if (palette) {
      palette.addItem({ command: CommandIDs.open, category });
    }
    client
      .config()
      .then(config => {
        switchAllowed = config.allow_context_switch;
        app.commands.notifyCommandChanged(CommandIDs.useLocal);
        app.commands.notifyCommandChanged(CommandIDs.useOffload);
        if (palette && switchAllowed) {
          for (const command of [CommandIDs.useLocal, CommandIDs.useOffload]) {
            palette.addItem({ command, category });
          }
        }
      })
      .catch(reason => {
        console.error('labadvisor: could not read the server settings', reason);
      });

    const start = () => {
      applySettings();
      void poll.start();
    };
    if (settingRegistry) {
      settingRegistry
        .load(PLUGIN_ID)
        .then(loaded => {
          const update = () => {
            settings.pollInterval = loaded.get('pollInterval')
              .composite as number;
            settings.showGpu = loaded.get('showGpu').composite as boolean;
            settings.showContext = loaded.get('showContext')
              .composite as boolean;
            applySettings();
          };
          update();
          loaded.changed.connect(update);
          void poll.start();
        })
        .catch(reason => {
          console.error('labadvisor: could not load settings', reason);
          start();
        });
    } else {
      start();
    }
  }
};

export default plugin;
