// AudioWorklet processor of the LiveDetector: the microphone's first channel as 16-bit PCM chunks.
// Each chunk (processorOptions.chunk samples) is posted to the main thread as a transferable ArrayBuffer.
class TwdPcmCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.size = (options.processorOptions && options.processorOptions.chunk) || 4800;
    this.buf = new Int16Array(this.size);
    this.n = 0;
  }
  process(inputs) {
    const input = inputs[0];
    if (input && input.length) {
      const x = input[0];
      for (let i = 0; i < x.length; i++) {
        const v = Math.max(-1, Math.min(1, x[i]));
        this.buf[this.n++] = v < 0 ? Math.round(v * 32768) : Math.round(v * 32767);
        if (this.n === this.size) {
          this.port.postMessage(this.buf.buffer, [this.buf.buffer]);
          this.buf = new Int16Array(this.size);
          this.n = 0;
        }
      }
    }
    return true;
  }
}
registerProcessor("twd-pcm-capture", TwdPcmCapture);
