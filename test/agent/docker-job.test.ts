// The job suite with containers on the test's Docker engine and the Debian image.
import { jobSuite } from './job-suite';

jobSuite('docker');
