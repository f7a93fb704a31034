using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Tensors;
using Edgewise.Models.Conversion;
using Edgewise.Models.Synthesis;
using Edgewise.Models.Tests.Gemma3n;
using Edgewise.Models.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Edgewise.Models.Tests.Conversion;

/// <summary>
/// <c>edgewise convert</c> on a synthetic Gemma 3n checkpoint: the AltUp projections are stacked, the result equals
/// the synthesizer's llama.cpp-shaped GGUF tensor for tensor and key for key, and llama.cpp runs it with Edgewise's
/// logits (the gemma3n conformance bound).
/// </summary>
public sealed class Gemma3nConvertTests(ITestOutputHelper output)
{
    private const double MaxTolerance = 1e-2, MeanTolerance = 1.5e-3;   // as Gemma3nConformanceTests (F32)

    [Fact]
    public void Converted_gemma3n_checkpoint_equals_the_llama_cpp_layout_and_matches_llama_cpp()
    {
        using var dir = new TempDirectory();
        Gemma3nSynthSpec spec = Gemma3nTestShapes.Small;
        string hf = Gemma3nHfFixture.Write(dir, spec);
        string gguf = dir.File("converted-3n.gguf");
        ConversionResult result = HfCheckpointConverter.Convert(hf, gguf, new ConvertOptions
        {
            Type = ModelFileType.F32, Threads = 2,
            WriteTokenizer = HfCheckpointFixture.TokenizerWriter(hf),
        });
        Assert.Empty(result.Ignored);
        string synthesized = Gemma3nTestShapes.Write(dir, spec, GgmlType.F32);

        using (GgufFile converted = GgufFile.Open(gguf), expected = GgufFile.Open(synthesized))
        {
            foreach (GgufMetadataEntry e in expected.MetadataEntries)
            {
                if (!e.Key.StartsWith("gemma3n.", StringComparison.Ordinal)) continue;
                Assert.True(converted.TryGetValue(e.Key, out GgufValue? v), $"missing {e.Key}");
                Assert.Equal(e.Value.Describe(64), v!.Describe(64));
            }
            Assert.Equal(expected.Tensors.Select(t => t.Name), converted.Tensors.Select(t => t.Name));
            foreach (GgufTensorInfo t in expected.Tensors)
            {
                TensorView a = expected.GetTensor(t.Name), b = converted.GetTensor(t.Name);
                Assert.Equal(a.Shape, b.Shape);
                Assert.True(a.Bytes.SequenceEqual(b.Bytes), $"{t.Name} differs");
            }
        }

        int[] tokens = TestShapes.Tokens(32, spec.Vocab, seed: 78);
        LogitComparison c = LogitComparison.Compare(LlamaReference.Logits(gguf, tokens), Gemma3nTestShapes.BatchLogits(gguf, tokens), tieMargin: 2 * MaxTolerance);
        output.WriteLine($"gemma3n converted F32, llama.cpp vs Edgewise: {c}");
        Assert.True(c.MaxAbs <= MaxTolerance && c.MeanAbs <= MeanTolerance, c.ToString());
        Assert.Equal(0, c.ArgmaxMismatches);
    }
}
