using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Edgewise.Core.Formats;
using Edgewise.Core.Formats.Safetensors;
using Edgewise.Core.Tensors;
using Xunit;

namespace Edgewise.Core.Tests.Formats;

public sealed class SafetensorsTests
{
    [Fact]
    public unsafe void WriteThenRead_SingleFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.safetensors");
        float[] w = [.. Enumerable.Range(0, 6).Select(i => i * 0.5f)];
        ushort[] bf16 = [0x3F80, 0xBF80, 0x4000, 0x0000];
        var writer = new SafetensorsWriter(path);
        writer.AddMetadata("format", "pt");
        writer.AddTensor("model.embed_tokens.weight", SafetensorsDtype.F32, [3, 2], MemoryMarshal.AsBytes(w.AsSpan()).ToArray());
        writer.AddTensor("model.norm.weight", SafetensorsDtype.BF16, [4], MemoryMarshal.AsBytes(bf16.AsSpan()).ToArray());
        writer.AddTensor("scalar", SafetensorsDtype.F16, [], new byte[] { 0x00, 0x3C });
        writer.AddTensor("empty", SafetensorsDtype.F32, [0, 5], Array.Empty<byte>());
        writer.AddTensor("mask", SafetensorsDtype.BOOL, [2], new byte[] { 1, 0 });
        long written = writer.Write();

        Assert.Equal(new FileInfo(path).Length, written);
        byte[] raw = File.ReadAllBytes(path);
        Assert.Equal(0, (long)BinaryPrimitives.ReadUInt64LittleEndian(raw) % 8);

        using var checkpoint = SafetensorsCheckpoint.Open(path);
        Assert.Equal("pt", checkpoint.Metadata["format"]);
        Assert.Equal(["model.embed_tokens.weight", "model.norm.weight", "scalar", "empty", "mask"], checkpoint.Tensors.Select(t => t.Name));
        SafetensorsTensorInfo info = checkpoint.GetTensorInfo("model.embed_tokens.weight");
        Assert.Equal([3L, 2L], info.Shape);
        Assert.Equal(SafetensorsDtype.F32, info.Dtype);

        TensorView embed = checkpoint.GetTensor("model.embed_tokens.weight");
        Assert.Equal(GgmlType.F32, embed.Type);
        Assert.Equal([2L, 3L], embed.Shape);   // reversed into ggml order: ne0 = HF's last dim
        Assert.Equal(2, embed.Columns);
        Assert.Equal(3, embed.Rows);
        Assert.Equal(w, MemoryMarshal.Cast<byte, float>(embed.Bytes).ToArray());

        TensorView norm = checkpoint.GetTensor("model.norm.weight");
        Assert.Equal(GgmlType.BF16, norm.Type);
        Assert.Equal(bf16, MemoryMarshal.Cast<byte, ushort>(norm.Bytes).ToArray());
        Assert.Equal(GgmlType.F16, checkpoint.GetTensor("scalar").Type);
        Assert.Equal(0, checkpoint.GetTensor("empty").ByteLength);

        var bool_ = Assert.Throws<SafetensorsFormatException>(() => checkpoint.GetTensor("mask"));
        Assert.Contains("dtype BOOL, which has no ggml equivalent", bool_.Message);
        var missing = Assert.Throws<SafetensorsFormatException>(() => checkpoint.GetTensor("nope"));
        Assert.Contains("'nope'", missing.Message);
    }

    [Fact]
    public void Sharded_ViaIndex_DirectoryOrIndexPath()
    {
        using var dir = new TempDirectory();
        var map = new Dictionary<string, string>();
        for (int shard = 1; shard <= 3; shard++)
        {
            string name = $"model-{shard:00000}-of-00003.safetensors";
            var writer = new SafetensorsWriter(dir.File(name));
            for (int layer = 0; layer < 2; layer++)
            {
                string tensor = $"model.layers.{shard * 10 + layer}.mlp.up_proj.weight";
                byte value = (byte)(shard * 10 + layer);
                writer.AddTensor(tensor, SafetensorsDtype.F16, [2, 4], s => s.Write(Enumerable.Repeat(value, 16).ToArray()));
                map[tensor] = name;
            }
            writer.Write();
        }
        SafetensorsWriter.WriteIndex(dir.File(SafetensorsCheckpoint.IndexFileName), map, 3 * 2 * 16);

        foreach (string open in new[] { dir.Path, dir.File(SafetensorsCheckpoint.IndexFileName) })
        {
            using var checkpoint = SafetensorsCheckpoint.Open(open);
            Assert.Equal(3, checkpoint.ShardPaths.Count);
            Assert.Equal(6, checkpoint.Tensors.Count);
            TensorView view = checkpoint.GetTensor("model.layers.21.mlp.up_proj.weight");
            Assert.Equal([4L, 2L], view.Shape);
            Assert.All(view.Bytes.ToArray(), b => Assert.Equal(21, b));
            Assert.EndsWith("model-00002-of-00003.safetensors", checkpoint.GetTensorInfo("model.layers.21.mlp.up_proj.weight").ShardPath);
        }
    }

    [Fact]
    public void Index_NamingAMissingShard_OrEscapingTheDirectory_IsRejected()
    {
        using var dir = new TempDirectory();
        new SafetensorsWriter(dir.File("a.safetensors")).Write();
        string index = dir.File(SafetensorsCheckpoint.IndexFileName);

        SafetensorsWriter.WriteIndex(index, new Dictionary<string, string> { ["w"] = "../a.safetensors" }, 0);
        Assert.Contains("expected a file name in the same directory", Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(dir.Path)).Message);

        SafetensorsWriter.WriteIndex(index, new Dictionary<string, string> { ["w"] = "b.safetensors" }, 0);
        Assert.Contains("shard named by the index does not exist", Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(dir.Path)).Message);

        SafetensorsWriter.WriteIndex(index, new Dictionary<string, string> { ["w"] = "a.safetensors" }, 0);
        Assert.Contains("maps tensor 'w' to a.safetensors, which does not contain it", Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(dir.Path)).Message);

        File.WriteAllText(index, "{\"weight_map\": [1]}");
        Assert.Contains("\"weight_map\" object", Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(dir.Path)).Message);
        File.WriteAllText(index, "{\"weight_map\": {");
        Assert.Contains("not valid JSON", Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(dir.Path)).Message);
    }

    [Fact]
    public void DuplicateTensorAcrossShards_IsRejected()
    {
        using var dir = new TempDirectory();
        foreach (string name in new[] { "a.safetensors", "b.safetensors" })
        {
            var writer = new SafetensorsWriter(dir.File(name));
            writer.AddTensor("w", SafetensorsDtype.F32, [1], new byte[4]);
            writer.AddTensor(name, SafetensorsDtype.F32, [1], new byte[4]);
            writer.Write();
        }
        var map = new Dictionary<string, string> { ["w"] = "a.safetensors", ["a.safetensors"] = "a.safetensors", ["b.safetensors"] = "b.safetensors" };
        SafetensorsWriter.WriteIndex(dir.File(SafetensorsCheckpoint.IndexFileName), map, 16);
        Assert.Contains("tensor 'w' is also in", Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(dir.Path)).Message);
    }

    [Theory]
    [InlineData("{\"w\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype \"F33\"")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, "needs 8 bytes, but data_offsets [0, 4) span 4")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 3, "runs past the data region (3 bytes)")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "begin <= end")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "shape must hold non-negative integers")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 4, "overflows 64 bits")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "tensor 'w' lacks data_offsets")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,9223372036854775807]}}", 4, "needs 4 bytes")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "tensor 'v' data overlaps tensor 'w'")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "header names 'w' twice")]
    [InlineData("{\"__metadata__\":{\"format\":1}}", 0, "value of 'format' must be a string")]
    [InlineData("[1,2]", 0, "header must be a JSON object")]
    [InlineData("{\"w\":", 0, "not valid JSON")]
    [InlineData("{} x", 0, "unexpected byte 0x78 after the header")]
    [InlineData("{\"w\":7}", 0, "tensor 'w' must be an object")]
    public void MalformedHeaders_AreRejected(string header, int dataBytes, string expected)
    {
        using var dir = new TempDirectory();
        string path = dir.File("bad.safetensors");
        byte[] json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
        json.CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(path));
        Assert.Contains(expected, e.Message);
        Assert.Contains(path, e.Message);
    }

    [Theory]
    [InlineData(0UL, 4, "file is 4 bytes")]
    [InlineData(1UL << 40, 64, "exceeds the 100000000-byte limit")]
    [InlineData(100UL, 64, "header length 100 runs past the end of the file (64 bytes)")]
    public void BadHeaderLength_IsRejectedWithoutReadingIt(ulong claimed, int fileBytes, string expected)
    {
        using var dir = new TempDirectory();
        string path = dir.File("bad.safetensors");
        var bytes = new byte[fileBytes];
        if (fileBytes >= 8) BinaryPrimitives.WriteUInt64LittleEndian(bytes, claimed);
        File.WriteAllBytes(path, bytes);
        Assert.Contains(expected, Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(path)).Message);
    }

    [Fact]
    public void MutatedHeaders_FailOnlyWithTypedExceptions()
    {
        using var dir = new TempDirectory();
        string validPath = dir.File("valid.safetensors");
        var writer = new SafetensorsWriter(validPath);
        writer.AddMetadata("format", "pt");
        writer.AddTensor("a", SafetensorsDtype.F32, [2, 3], new byte[24]);
        writer.AddTensor("b", SafetensorsDtype.BF16, [5], new byte[10]);
        writer.Write();
        byte[] valid = File.ReadAllBytes(validPath);
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(valid);

        var rng = new Random(7);
        string path = dir.File("mutant.safetensors");
        int rejected = 0;
        for (int c = 0; c < 1500; c++)
        {
            byte[] bytes = (byte[])valid.Clone();
            if (c % 3 == 0)
            {
                bytes = bytes[..rng.Next(bytes.Length)];
            }
            else
            {
                // Flip header bytes to digits, quotes and braces as well as noise, to reach deeper than the tokenizer.
                ReadOnlySpan<byte> alphabet = "0123456789{}[]\",:-ZF"u8;
                for (int f = rng.Next(1, 4); f > 0; f--)
                {
                    bytes[rng.Next(headerEnd)] = rng.Next(2) == 0 ? alphabet[rng.Next(alphabet.Length)] : (byte)rng.Next(256);
                }
            }
            File.WriteAllBytes(path, bytes);
            try
            {
                using var checkpoint = SafetensorsCheckpoint.Open(path);
                foreach (SafetensorsTensorInfo t in checkpoint.Tensors)
                {
                    Assert.InRange(t.Offset + t.ByteSize, 0, bytes.Length);
                }
            }
            catch (SafetensorsFormatException)
            {
                rejected++;
            }
        }
        Assert.InRange(rejected, 500, 1500);
    }

    [Fact]
    public void ExceptionsShareTheModelFormatBase()
    {
        using var dir = new TempDirectory();
        File.WriteAllBytes(dir.File("x.safetensors"), [1, 2]);
        Assert.IsAssignableFrom<ModelFormatException>(Record.Exception(() => SafetensorsCheckpoint.Open(dir.File("x.safetensors"))));
    }
}
