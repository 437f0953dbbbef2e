// The SSH engine against the shared conformance suite, with Debian's sshd as the target.
import { sshTarget } from './ssh-target.js';
import { runConformance } from './suite.js';

runConformance(sshTarget());
