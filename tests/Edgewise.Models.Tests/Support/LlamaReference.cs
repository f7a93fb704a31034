using LLama;
using LLama.Common;
using LLama.Native;

namespace Edgewise.Models.Tests.Support;

/// <summary>
/// llama.cpp (through LLamaSharp 0.30.0) as the independent reference for logits. Settings follow
/// llama-cpp-reference.md: F32 KV cache, flash attention off (null would mean auto = on), one batch with logits
/// for every position, CPU only.
/// </summary>
internal static class LlamaReference
{
    private static readonly object Gate = new();
    private static bool _quiet;

    /// <param name="halfCache">F16 keys and values (llama.cpp's own default) instead of F32: to check Edgewise's half cache.</param>
    /// <returns>Logits [tokens.Length][vocab].</returns>
    public static float[][] Logits(string ggufPath, int[] tokens, int threads = 2, bool halfCache = false)
    {
        lock (Gate)
        {
            if (!_quiet)
            {
                // Keep the test log readable: llama.cpp prints every tensor at load otherwise.
                NativeLibraryConfig.All.WithLogCallback((level, message) =>
                {
                    if (level == LLamaLogLevel.Error) Console.Error.Write(message);
                });
                _quiet = true;
            }
            uint n = (uint)tokens.Length;
            var parameters = new ModelParams(ggufPath)
            {
                ContextSize = Math.Max(n, 64u),
                BatchSize = n,
                UBatchSize = n,
                Threads = threads,
                BatchThreads = threads,
                TypeK = halfCache ? GGMLType.GGML_TYPE_F16 : GGMLType.GGML_TYPE_F32,
                TypeV = halfCache ? GGMLType.GGML_TYPE_F16 : GGMLType.GGML_TYPE_F32,
                FlashAttention = false,
                GpuLayerCount = 0,
            };
            using LLamaWeights weights = LLamaWeights.LoadFromFile(parameters);
            using LLamaContext context = weights.CreateContext(parameters);
            var batch = new LLamaBatch();
            for (int i = 0; i < tokens.Length; i++) batch.Add(tokens[i], i, LLamaSeqId.Zero, true);
            DecodeResult result = context.NativeHandle.Decode(batch);
            if (result != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {result}.");
            int vocab = weights.Vocab.Count;
            var logits = new float[tokens.Length][];
            for (int i = 0; i < tokens.Length; i++) logits[i] = context.NativeHandle.GetLogitsIth(i).ToArray()[..vocab];
            return logits;
        }
    }
}
