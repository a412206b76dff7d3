export { selectBackend, formatSelection, BACKEND_CHOICES } from './backend.js';
export type { BackendChoice, BackendAttempt, BackendSelection } from './backend.js';
