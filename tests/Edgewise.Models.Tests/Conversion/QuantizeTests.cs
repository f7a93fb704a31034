using Edgewise.Core.Formats.Gguf;
using Edgewise.Core.Quantization;
using Edgewise.Core.Tensors;
using Edgewise.Models.Conversion;
using Edgewise.Models.Synthesis;
using Edgewise.Models.Tests.Gemma3n;
using Edgewise.Models.Tests.Support;
using LLama;
using LLama.Native;
using Xunit;
using Xunit.Abstractions;

namespace Edgewise.Models.Tests.Conversion;

/// <summary>
/// <c>edgewise quantize</c> against llama.cpp's <c>llama_model_quantize</c> on the same F32 synthetic model: the same
/// type for every tensor, byte-identical blocks where the algorithms agree, each engine loading the other's file
/// with logits close to the other engine's on that file.
/// </summary>
public sealed class QuantizeTests(ITestOutputHelper output)
{
    private const int SequenceLength = 32;

    // Both engines quantize activations to 8 bits inside quantized matmuls (Q8_0 blocks, Q8_K for K-quants), so a
    // tiny upstream difference flips rounding steps that cascade through a random network: the Q8_0 conformance
    // bound (max 0.35, mean 0.04) applies, and 4-bit weights are coarser still, hence the wider 4-bit bound.
    public static TheoryData<string, double, double> Types => new()
    {
        { "q8_0", 0.35, 0.04 },
        { "q4_0", 0.6, 0.08 },
        { "q4_k_m", 0.6, 0.08 },
    };

    [Theory]
    [MemberData(nameof(Types))]
    public void Edgewise_and_llama_cpp_quantize_alike_and_load_each_others_files(string typeName, double maxTolerance, double meanTolerance)
    {
        using var dir = new TempDirectory();
        ModelFileType type = ModelFileTypes.Parse(typeName);
        string f32 = TestShapes.Write(dir, HfCheckpointFixture.KQuant, GgmlType.F32);
        int[] tokens = TestShapes.Tokens(SequenceLength, HfCheckpointFixture.KQuant.Vocab, seed: 9);
        // Also loads llama.cpp (and quiets its log) before the native quantizer runs.
        float[][] f32Logits = LlamaReference.Logits(f32, tokens);

        string ours = dir.File($"edgewise-{typeName}.gguf"), theirs = dir.File($"llama-{typeName}.gguf");
        GgufQuantizer.Quantize(f32, ours, new QuantizeOptions { Type = type, Threads = 2 });
        Assert.True(LLamaQuantizer.Quantize(f32, theirs, LlamaFtype(type), nthread: 2, allowRequantize: false, quantizeOutputTensor: false), "llama.cpp quantize failed");

        using (GgufFile a = GgufFile.Open(ours), b = GgufFile.Open(theirs))
        {
            Assert.Equal((uint)type, a.GetUInt32("general.file_type"));
            Assert.Equal(b.GetUInt32("general.file_type"), a.GetUInt32("general.file_type"));
            Assert.Equal(2u, a.GetUInt32("general.quantization_version"));
            CompareTensors(a, b);
        }

        // llama.cpp runs Edgewise's file; Edgewise runs llama.cpp's.
        LogitComparison oursInBoth = LogitComparison.Compare(LlamaReference.Logits(ours, tokens), TestShapes.EdgewiseLogits(ours, tokens), tieMargin: 2 * maxTolerance);
        LogitComparison theirsInBoth = LogitComparison.Compare(LlamaReference.Logits(theirs, tokens), TestShapes.EdgewiseLogits(theirs, tokens), tieMargin: 2 * maxTolerance);
        LogitComparison oursVsF32 = LogitComparison.Compare(f32Logits, TestShapes.EdgewiseLogits(ours, tokens), tieMargin: 1);
        output.WriteLine($"{typeName}: Edgewise file, llama.cpp vs Edgewise: {oursInBoth}");
        output.WriteLine($"{typeName}: llama.cpp file, llama.cpp vs Edgewise: {theirsInBoth}");
        output.WriteLine($"{typeName}: quantization error of the Edgewise file vs F32 (llama.cpp): {oursVsF32}");
        Assert.True(oursInBoth.MaxAbs <= maxTolerance && oursInBoth.MeanAbs <= meanTolerance, oursInBoth.ToString());
        Assert.True(theirsInBoth.MaxAbs <= maxTolerance && theirsInBoth.MeanAbs <= meanTolerance, theirsInBoth.ToString());
    }

    /// <summary>
    /// Same type per tensor, and the same bytes: Edgewise's quantizers follow ggml's reference rounding
    /// (<c>quantize_row_*_ref</c>, and the K-quants' <c>make_qkx2_quants</c>/<c>make_qx_quants</c> searches without an
    /// importance matrix), so every tensor is byte-identical, K-quants included (measured: all of them).
    /// </summary>
    private void CompareTensors(GgufFile ours, GgufFile theirs)
    {
        Assert.Equal(theirs.Tensors.Select(t => t.Name).Order(), ours.Tensors.Select(t => t.Name).Order());
        var identical = new SortedDictionary<GgmlType, (int Same, int Total)>();
        foreach (GgufTensorInfo info in theirs.Tensors)
        {
            TensorView a = ours.GetTensor(info.Name), b = theirs.GetTensor(info.Name);
            Assert.True(a.Type == b.Type, $"{info.Name}: Edgewise chose {a.Type}, llama.cpp {b.Type}");
            bool same = a.Bytes.SequenceEqual(b.Bytes);
            (int s, int n) = identical.GetValueOrDefault(a.Type);
            identical[a.Type] = (s + (same ? 1 : 0), n + 1);
            if (!same) Assert.Fail($"{info.Name} ({a.Type}): Edgewise's blocks differ from llama.cpp's at byte {FirstDifference(a.Bytes, b.Bytes)}");
        }
        output.WriteLine("byte-identical tensors per type (Edgewise vs llama.cpp): " +
            string.Join(", ", identical.Select(kv => $"{kv.Key} {kv.Value.Same}/{kv.Value.Total}")));
    }

    private static int FirstDifference(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        int n = Math.Min(a.Length, b.Length);
        for (int i = 0; i < n; i++) if (a[i] != b[i]) return i;
        return n;
    }

    private static LLamaFtype LlamaFtype(ModelFileType type) => type switch
    {
        ModelFileType.Q8_0 => LLamaFtype.MOSTLY_Q8_0,
        ModelFileType.Q4_0 => LLamaFtype.MOSTLY_Q4_0,
        ModelFileType.Q4_K_M => LLamaFtype.MOSTLY_Q4_K_M,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };

    [Fact]
    public void Gemma3n_q4_k_m_equals_llama_cpps_and_runs_in_both_engines()
    {
        using var dir = new TempDirectory();
        Gemma3nSynthSpec spec = Gemma3nTestShapes.Small;
        string f32 = Gemma3nTestShapes.Write(dir, spec, GgmlType.F32);
        int[] tokens = TestShapes.Tokens(SequenceLength, spec.Vocab, seed: 10);
        LlamaReference.Logits(f32, tokens[..4]);   // loads llama.cpp (and quiets its log) before the native quantizer runs

        string ours = dir.File("edgewise-3n-q4_k_m.gguf"), theirs = dir.File("llama-3n-q4_k_m.gguf");
        GgufQuantizer.Quantize(f32, ours, new QuantizeOptions { Type = ModelFileType.Q4_K_M, Threads = 2 });
        Assert.True(LLamaQuantizer.Quantize(f32, theirs, LLamaFtype.MOSTLY_Q4_K_M, nthread: 2, allowRequantize: false, quantizeOutputTensor: false));
        using (GgufFile a = GgufFile.Open(ours), b = GgufFile.Open(theirs))
        {
            // AltUp, LAuReL and per_layer_model_proj stay F32; hidden 64 rows fall back from Q4_K to Q5_0.
            Assert.Equal(GgmlType.F32, a.GetTensor("blk.0.laurel_l.weight").Type);
            CompareTensors(a, b);
        }
        LogitComparison c = LogitComparison.Compare(LlamaReference.Logits(theirs, tokens), Gemma3nTestShapes.BatchLogits(theirs, tokens), tieMargin: 0.7);
        output.WriteLine($"gemma3n q4_k_m (llama.cpp's file), llama.cpp vs Edgewise: {c}");
        Assert.True(c.MaxAbs <= 0.35 && c.MeanAbs <= 0.04, c.ToString());
    }

    [Fact]
    public void Quantize_streams_metadata_through_and_requantizes_an_already_quantized_file()
    {
        using var dir = new TempDirectory();
        string q8 = TestShapes.Write(dir, HfCheckpointFixture.KQuant, GgmlType.Q8_0);
        string q4 = dir.File("q4_0-from-q8_0.gguf");
        ConversionResult result = GgufQuantizer.Quantize(q8, q4, new QuantizeOptions { Type = ModelFileType.Q4_0, Threads = 2 });
        using GgufFile source = GgufFile.Open(q8), file = GgufFile.Open(q4);
        foreach (GgufMetadataEntry e in source.MetadataEntries)
        {
            if (e.Key is "general.file_type" or "general.quantization_version") continue;
            Assert.Equal(e.Value.Describe(16), file[e.Key].Describe(16));
        }
        Assert.Equal((uint)ModelFileType.Q4_0, file.GetUInt32("general.file_type"));
        Assert.Contains(result.Tensors, t => t.Type == GgmlType.Q4_0);
        // Requantized weights decode to the Q4_0 of the Q8_0 values.
        TensorView q = file.GetTensor("blk.1.ffn_up.weight"), s = source.GetTensor("blk.1.ffn_up.weight");
        var values = new float[s.Columns];
        Dequantizer.DequantizeRow(s.Type, s.Bytes[..(int)GgmlTypeInfo.RowBytes(s.Type, s.Columns)], values);
        var expected = new byte[GgmlTypeInfo.RowBytes(GgmlType.Q4_0, s.Columns)];
        Quantizer.Quantize(GgmlType.Q4_0, values, expected);
        Assert.True(q.Bytes[..expected.Length].SequenceEqual(expected));
    }
}
