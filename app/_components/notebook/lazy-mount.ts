// Lazy editor creation for big notebooks. Building a CodeMirror EditorView forces layouts of the whole page,
// so a cell shows static text until it comes near the viewport (one shared IntersectionObserver with a
// generous margin), and the editors that are due are then built a few at a time, one slice per frame.

type Wake = () => void;

const waiting = new Map<Element, Wake>();
let observer: IntersectionObserver | null = null;

function theObserver(): IntersectionObserver | null {
  if (observer || typeof IntersectionObserver === "undefined") return observer;
  observer = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting) continue;
        const wake = waiting.get(entry.target);
        if (!wake) continue;
        waiting.delete(entry.target);
        observer?.unobserve(entry.target);
        enqueue(wake);
      }
    },
    // about two screens above and below
    { rootMargin: "200% 0px 200% 0px" },
  );
  return observer;
}

/** Calls `wake` (through the slice queue) once `element` is within about two screens of the viewport. */
export function whenNear(element: Element, wake: Wake): () => void {
  const io = theObserver();
  if (!io) {
    enqueue(wake);
    return () => dequeue(wake);
  }
  waiting.set(element, wake);
  io.observe(element);
  return () => {
    if (waiting.get(element) === wake) {
      waiting.delete(element);
      io.unobserve(element);
    }
    dequeue(wake);
  };
}

const PER_SLICE = 3;
const queue: Wake[] = [];
let scheduled = false;

function enqueue(wake: Wake) {
  queue.push(wake);
  schedule();
}

function dequeue(wake: Wake) {
  const i = queue.indexOf(wake);
  if (i >= 0) queue.splice(i, 1);
}

function schedule() {
  if (scheduled) return;
  scheduled = true;
  // One slice per frame, in its own task after the frame, so React renders and builds it before the next one.
  const run = () => setTimeout(pump, 0);
  if (typeof requestAnimationFrame === "function") requestAnimationFrame(run);
  else run();
}

function pump() {
  scheduled = false;
  for (let n = 0; n < PER_SLICE && queue.length; n++) queue.shift()!();
  if (queue.length) schedule();
}
