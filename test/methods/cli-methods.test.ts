// The methods through `weblora train/eval/merge` on the tiny Llama fixture (PEFT replays, resume, dropout), gathered
// in one file so every command runs on one GPU device and reuses its compiled pipelines (on SwiftShader compiling
// dominates a file's first test). Each *.cases.ts holds one method's tests.
import './loraplus.cases';
import './lorafa.cases';
import './dora.cases';
import './vera.cases';
import './adalora.cases';
import './deltalora-cli.cases';
import './loradrop-cli.cases';
import './dropout-cli.cases';
import './dropout-loradrop-resume.cases';
import '../train/resume.cases';
