// The job suite with the job running on the host itself (no container).
import { jobSuite } from './job-suite';

jobSuite('host');
