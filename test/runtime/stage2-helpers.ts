export { record } from '../support/facility-record'; // old path, kept for importers in test/cli and test/e2e
