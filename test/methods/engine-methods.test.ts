// The methods' engine-level tests (float64 references, finite differences, PEFT replays driven through the hooks),
// gathered in one file so they share one process and so one GPU device and its compiled pipelines (on SwiftShader
// compiling dominates a file's first test). Each *.cases.ts holds one method's tests.
import './adalora-module.cases';
import './adalora-direct.cases';
import './deltalora-module.cases';
import './deltalora.cases';
import './loradrop.cases';
import './loradrop-shared.cases';
import './dropout.cases';
