/**
 * nbtune-apply: Apply in nbtune's space editor writes the edited space lines into the cell that
 * holds the editor. No widget may rewrite a cell; this extension may.
 *
 * When a `%%tune --edit` cell runs, the kernel opens a comm (target `nbtune.apply`) naming the
 * cell it executes. If that cell is in this notebook, the extension answers `{ready: true}`.
 * Apply then sends `{write: n, old, new}`: the cell's source becomes `new` only if it still
 * reads `old` (nothing is run), and the extension answers `{written: n}` or
 * `{failed: n, reason}`, so that the kernel keeps the edit for the cell's next run instead.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';

const TARGET = 'nbtune.apply';

interface IWrite {
  write: number;
  old: string;
  new: string;
}

function findCell(panels: NotebookPanel[], id: string) {
  for (const panel of panels) {
    const cells = panel.content.model?.sharedModel.cells ?? [];
    const cell = cells.find(c => c.getId() === id);
    if (cell) {
      return cell;
    }
  }
  return undefined;
}

// The kernel connections whose target is registered: once each. A second view of a notebook
// (File > New View) shares its kernel connection; a target registered per view was replaced by
// the newest view's, which stopped answering once that view closed (first-day test, round 66).
const registered = new WeakSet<Kernel.IKernelConnection>();

function listen(notebooks: INotebookTracker, kernel: Kernel.IKernelConnection | null | undefined) {
  if (!kernel || registered.has(kernel)) {
    return;
  }
  registered.add(kernel);
  // the open views of notebooks on this kernel, looked up at each message: views come and go
  const views = () => {
    const found: NotebookPanel[] = [];
    notebooks.forEach(panel => {
      if (!panel.isDisposed && panel.sessionContext.session?.kernel === kernel) {
        found.push(panel);
      }
    });
    return found;
  };
  kernel.registerCommTarget(
    TARGET,
    (comm: Kernel.IComm, open: KernelMessage.ICommOpenMsg) => {
      const id = String(open.content.data.cell_id ?? '');
      if (!findCell(views(), id)) {
        return; // another notebook's cell (or a console): its own frontend answers
      }
      comm.onMsg = (msg: KernelMessage.ICommMsgMsg) => {
        const data = msg.content.data as unknown as IWrite;
        if (typeof data.write !== 'number') {
          return;
        }
        const cell = findCell(views(), id);
        if (!cell) {
          comm.send({ failed: data.write, reason: 'the cell is gone from the notebook' });
        } else if (cell.getSource() !== data.old) {
          comm.send({ failed: data.write, reason: 'the cell was changed since it ran' });
        } else {
          cell.setSource(data.new);
          comm.send({ written: data.write });
        }
      };
      comm.send({ ready: true });
    }
  );
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'nbtune-apply:plugin',
  description: "Lets nbtune's space editor write its cell.",
  autoStart: true,
  requires: [INotebookTracker],
  activate: (app: JupyterFrontEnd, notebooks: INotebookTracker) => {
    notebooks.widgetAdded.connect((_, panel) => {
      const context = panel.sessionContext;
      listen(notebooks, context.session?.kernel);
      context.kernelChanged.connect((_, change) => listen(notebooks, change.newValue));
    });
  }
};

export default plugin;
