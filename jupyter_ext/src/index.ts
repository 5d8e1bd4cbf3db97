import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Dialog, ICommandPalette, showDialog } from '@jupyterlab/apputils';
import { SessionAPI } from '@jupyterlab/services';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { LabIcon } from '@jupyterlab/ui-components';
import { Poll } from '@lumino/polling';
import { Widget } from '@lumino/widgets';

import {
  APIError,
  IContexts,
  IGpuHolder,
  IGpuProcesses,
  IUsage,
  LabAdvisorClient
} from './api';
import { toast } from './notify';
// The status bar item, its Offload meter and the panel (in the left sidebar from the
// start) are all shown at activation, so activation needs them at once.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { OffloadWatch, offloadInForce } from './offload';
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { LabAdvisorPanel } from './panel';
// eslint-disable-next-line jupyter/prefer-lazy-imports
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
  showOffloadMeter: boolean;
  monthlyBudget: number;
  idleReminderMinutes: number;
}

const DEFAULTS: ISettings = {
  pollInterval: 10,
  showGpu: true,
  showContext: true,
  showOffloadMeter: true,
  monthlyBudget: 0,
  idleReminderMinutes: 15
};

/** A route the server may not have yet answers 404: ask again after this long. */
const MISSING_ROUTE_RETRY_MS = 5 * 60 * 1000;

/** The kernel id of a notebook (or console) widget, if it has a running kernel. */
function kernelIdOf(widget: Widget | null): string | null {
  const session = (
    widget as unknown as {
      sessionContext?: { session?: { kernel?: { id?: string } | null } | null };
    } | null
  )?.sessionContext?.session;
  return session?.kernel?.id ?? null;
}

/** Calls to a route that may be missing: null while it answered 404 lately. */
class OptionalRoute<T> {
  constructor(private _call: () => Promise<T>) {}

  async get(): Promise<T | null> {
    if (Date.now() - this._missingAt < MISSING_ROUTE_RETRY_MS) {
      return null;
    }
    try {
      return await this._call();
    } catch (error) {
      if (error instanceof APIError && error.status === 404) {
        this._missingAt = Date.now();
        return null;
      }
      throw error;
    }
  }

  get missing(): boolean {
    return Date.now() - this._missingAt < MISSING_ROUTE_RETRY_MS;
  }

  private _missingAt = -Infinity;
}

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
    const status = new LabAdvisorStatus(advisorIcon, () =>
      app.commands.execute(CommandIDs.open)
    );
    const processesRoute = new OptionalRoute(() => client.gpuProcesses());
    const usageRoute = new OptionalRoute(() => client.usage());

    let lastContexts: IContexts | null = null;
    const activeKernelId = () => kernelIdOf(app.shell.currentWidget);

    // What the server has is shown as it is; a kernel that switched on its own (use()'s
    // default scope) is shown while its notebook is the active one.
    const showContexts = () => {
      if (lastContexts) {
        status.showContexts(lastContexts, activeKernelId());
      }
    };
    app.shell.currentChanged?.connect(() => {
      showContexts();
      if (lastContexts) {
        status.showMeter(
          settings.showOffloadMeter
            ? offload.update(lastContexts, activeKernelId(), lastUsage)
            : null
        );
      }
    });

    let panel: LabAdvisorPanel | null = null;
    let lastUsage: IUsage | null = null;

    const refresh = async (): Promise<void> => {
      const [gpu, contexts, processes] = await Promise.allSettled([
        settings.showGpu ? client.gpu() : Promise.resolve(null),
        settings.showContext || settings.showOffloadMeter
          ? client.contexts()
          : Promise.resolve(null),
        settings.showGpu ? processesRoute.get() : Promise.resolve(null)
      ]);
      const holders: IGpuProcesses | null =
        processes.status === 'fulfilled' ? processes.value : null;
      if (gpu.status === 'fulfilled' && gpu.value) {
        status.showGpu(gpu.value, holders);
      } else if (gpu.status === 'rejected') {
        status.showError('gpu', String((gpu.reason as Error).message));
      }
      if (panel && !panel.isDisposed && settings.showGpu) {
        if (holders) {
          panel.showHolders(holders);
        } else if (processes.status === 'rejected') {
          panel.showHoldersError(String((processes.reason as Error).message));
        } else if (processesRoute.missing) {
          panel.showHoldersError(
            'This server does not list GPU processes (its labadvisor has no gpu/processes route).'
          );
        }
      }
      if (contexts.status === 'fulfilled' && contexts.value) {
        lastContexts = contexts.value;
        showContexts();
        const kernelId = activeKernelId();
        if (settings.showOffloadMeter || settings.monthlyBudget > 0) {
          // The ledger is asked only while an Offload context is in force: its cost
          // grows only then.
          lastUsage = offloadInForce(lastContexts, kernelId)
            ? await usageRoute.get().catch(() => null)
            : null;
        }
        status.showMeter(
          settings.showOffloadMeter
            ? offload.update(lastContexts, kernelId, lastUsage)
            : null
        );
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
        isActive: () =>
          settings.showGpu || settings.showContext || settings.showOffloadMeter
      });
    }

    // The server resolves the role ("local" / "offload") to a context and checks its engine.
    const switchTo = async (role: 'local' | 'offload', label: string) => {
      try {
        const result = await client.useContext(role);
        lastContexts = result;
        showContexts();
        const text = result.summary ?? `Docker work now goes to ${label}`;
        // Already there is news, not a failure.
        toast(result.switch?.changed === false ? 'info' : 'success', '', text);
      } catch (error) {
        toast(
          'error',
          `Could not switch to ${label}`,
          (error as Error).message
        );
      } finally {
        void poll.refresh();
      }
    };

    const stopOffload = async () => {
      let why = 'The server cannot stop Offload';
      try {
        const result = await client.stopOffload();
        toast('success', '', result.summary ?? 'Docker Offload stopped');
        void poll.refresh();
        return;
      } catch (error) {
        // 409: no `docker offload` plugin on the server; 404: a server without the route.
        const cannot =
          error instanceof APIError &&
          (error.status === 404 || error.status === 409);
        if (!cannot) {
          toast(
            'error',
            'Could not stop Docker Offload',
            (error as Error).message
          );
          return;
        }
        if (error.status === 409) {
          why = 'The server has no docker offload plugin';
        }
      }
      // The session goes on: leave it, and say how to stop it (short enough for a toast).
      await switchTo('local', 'the local engine');
      toast(
        'info',
        '',
        `Now on the local engine. ${why}: run \`docker offload stop\` where Docker ` +
          'Desktop runs (billed until then).',
        { autoClose: false }
      );
    };

    const offload = new OffloadWatch(
      () => settings,
      {
        budget: (level, text) =>
          toast(level === 100 ? 'error' : 'warning', '', text, {
            autoClose: false
          }),
        idle: (text, actions) =>
          toast('warning', 'Docker Offload is idle', text, {
            autoClose: false,
            actions
          })
      },
      {
        useLocal: () => void switchTo('local', 'the local engine'),
        stopOffload: () => void stopOffload()
      }
    );

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

    const shutDown = async (holder: IGpuHolder): Promise<void> => {
      const what = holder.notebook_path ?? holder.kernel_name ?? holder.label;
      const answer = await showDialog({
        title: 'Shut down kernel?',
        body:
          `Shut down the kernel of ${what}? It frees ` +
          `${holder.memory_used_gb?.toFixed(1) ?? 'its'} GB of GPU memory; ` +
          'its variables are lost.',
        buttons: [
          Dialog.cancelButton(),
          Dialog.warnButton({ label: 'Shut Down' })
        ]
      });
      if (!answer.button.accept || !holder.kernel_id) {
        return;
      }
      const sessions = app.serviceManager.sessions;
      try {
        // Asked now, not from the session manager's cache (refreshed every few seconds).
        const running = await SessionAPI.listRunning(
          app.serviceManager.serverSettings
        );
        const session = running.find(
          model => model.kernel?.id === holder.kernel_id
        );
        if (session) {
          await sessions.shutdown(session.id);
        } else {
          await app.serviceManager.kernels.shutdown(holder.kernel_id);
        }
        toast('success', '', `Shut down the kernel of ${what}`);
      } catch (error) {
        toast(
          'error',
          `Could not shut down the kernel of ${what}`,
          String(error)
        );
      } finally {
        void poll.refresh();
      }
    };

    const openPanel = (): LabAdvisorPanel => {
      if (!panel || panel.isDisposed) {
        panel = new LabAdvisorPanel(client, {
          open: path => void app.commands.execute('docmanager:open', { path }),
          shutDown
        });
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
            for (const key of Object.keys(DEFAULTS) as (keyof ISettings)[]) {
              (settings as unknown as Record<string, unknown>)[key] =
                loaded.get(key).composite;
            }
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
