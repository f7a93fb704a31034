using System.Security.Cryptography;
using Edgewise.Core.Tensors;
using Edgewise.Models.Conversion;
using Edgewise.Models.Synthesis;
using Edgewise.Models.Tests.Gemma3n;
using Edgewise.Models.Tests.Support;
using Xunit;

namespace Edgewise.Models.Tests.Conversion;

/// <summary>
/// Every file writer (GGUF and safetensors synthesizers, the converter, the quantizer) gives the same bytes as the
/// commit these SHA-256 values were taken on: a refactor of the writers may not change a single byte of output.
/// Small shapes (a few MB at most) keep the run short. If a deliberate format change moves a value, regenerate it
/// and say why in the commit.
/// </summary>
public sealed class WrittenFileHashTests
{
    [Theory]
    [InlineData("gemma4-e-q8_0.gguf", "be55bcbd99e57c172902ae4c20d2f1b96ef37534d57cd0ebb9abfd8d1b3a8509")]
    [InlineData("gemma4-moe-f32.gguf", "c4154fca044e79aea1093462a1aa6834547fad262216dc21ca88fcbe830da7aa")]
    [InlineData("gemma3n-small-q4_0.gguf", "9eae15478843a439b708205547fdd84dbe386d3de6a2b202983483322488746c")]
    [InlineData("gemma4-e.safetensors", "1cdf92738e62172c293d9e8b1b8bccf0b9b91d3b957fee672f71df5320230ba3")]
    [InlineData("gemma3n-small.safetensors", "06eb21feb24370d48e42594d7c553fcc5eaa2158cc0adf5b9bc6b922543ac9fb")]
    [InlineData("gemma4-e-converted-bf16.gguf", "22e1cdeedae18877b4f21b2258c734337ff0bc4e8d76088df6cd8e9634ebb460")]
    [InlineData("gemma3n-small-converted-f32.gguf", "d79b6a6b48ea33f001aa15770bbdbf75a762962464b7e9824465d02acf2e5247")]
    [InlineData("gemma4-e-quantized-q4_k_m.gguf", "cddd897953f736fd50d4e8e17e9e4096d37012c78d3d39564e47ba9d5454a09f")]
    public void Written_file_is_byte_identical_to_the_recorded_one(string file, string expectedSha256)
    {
        using var dir = new TempDirectory();
        string path = Write(dir, file);
        Assert.Equal(expectedSha256, Sha256(path));
    }

    private static string Write(TempDirectory dir, string file)
    {
        switch (file)
        {
            case "gemma4-e-q8_0.gguf":
                return TestShapes.Write(dir, TestShapes.EModel, GgmlType.Q8_0);
            case "gemma4-moe-f32.gguf":
                return TestShapes.Write(dir, TestShapes.Moe, GgmlType.F32);
            case "gemma3n-small-q4_0.gguf":
                return Gemma3nTestShapes.Write(dir, Gemma3nTestShapes.Small, GgmlType.Q4_0);
            case "gemma4-e.safetensors":
                {
                    string hf = dir.File("hf-e");
                    Gemma4SafetensorsSynthesizer.Write(TestShapes.EModel, hf);
                    return Path.Combine(hf, "model.safetensors");
                }
            case "gemma3n-small.safetensors":
                {
                    string hf = dir.File("hf-3n");
                    Gemma3nSafetensorsSynthesizer.Write(Gemma3nTestShapes.Small, hf);
                    return Path.Combine(hf, "model.safetensors");
                }
            case "gemma4-e-converted-bf16.gguf":
                return ConvertTo(dir, HfCheckpointFixture.Write(dir, TestShapes.EModel), ModelFileType.BF16);
            case "gemma3n-small-converted-f32.gguf":
                return ConvertTo(dir, Gemma3nHfFixture.Write(dir, Gemma3nTestShapes.Small), ModelFileType.F32);
            case "gemma4-e-quantized-q4_k_m.gguf":
                {
                    string f32 = TestShapes.Write(dir, HfCheckpointFixture.KQuant, GgmlType.F32);
                    string output = dir.File(file);
                    GgufQuantizer.Quantize(f32, output, new QuantizeOptions { Type = ModelFileType.Q4_K_M, Threads = 2 });
                    return output;
                }
            default:
                throw new ArgumentException($"No writer for {file}.", nameof(file));
        }
    }

    private static string ConvertTo(TempDirectory dir, string hf, ModelFileType type)
    {
        string output = dir.File("converted.gguf");
        HfCheckpointConverter.Convert(hf, output, new ConvertOptions
        {
            Type = type, Threads = 2, WriteTokenizer = HfCheckpointFixture.TokenizerWriter(hf),
        });
        return output;
    }

    private static string Sha256(string path)
    {
        using FileStream stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
