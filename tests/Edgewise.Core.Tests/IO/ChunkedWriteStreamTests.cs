using Edgewise.Core.IO;
using Edgewise.Core.Tests.Formats;
using Xunit;

namespace Edgewise.Core.Tests.IO;

public sealed class ChunkedWriteStreamTests
{
    private const int Chunk = ChunkedWriteStream.ChunkBytes;

    [Fact]
    public void Writes_of_any_size_reach_the_file_as_whole_aligned_chunks()
    {
        using var dir = new TempDirectory();
        string path = dir.File("out.bin");
        var expected = new MemoryStream();
        var file = new RecordingFileStream(path);
        var random = new Random(3);
        using (var stream = new ChunkedWriteStream(file))
        {
            while (expected.Length < 3L * Chunk + 12345)
            {
                var piece = new byte[random.Next(1, 300_000)];
                random.NextBytes(piece);
                stream.Write(piece);
                expected.Write(piece);
            }
            Assert.Equal(expected.Length, stream.Position);
            Assert.Equal(expected.Length, stream.Length);
        }

        Assert.Equal(expected.ToArray(), File.ReadAllBytes(path));
        // Every write but the tail is one whole chunk at a chunk boundary.
        Assert.True(file.Writes.Count >= 4);
        foreach ((long offset, int count) in file.Writes.SkipLast(1))
        {
            Assert.Equal(0, offset % Chunk);
            Assert.Equal(Chunk, count);
        }
        Assert.Equal(expected.Length % Chunk, file.Writes[^1].Count);
    }

    [Fact]
    public void Small_pieces_mode_writes_through_at_once_in_pieces_of_at_most_64_KiB()
    {
        using var dir = new TempDirectory();
        string path = dir.File("rows.bin");
        var file = new RecordingFileStream(path);
        var data = new byte[Chunk + 300_000];
        new Random(9).NextBytes(data);
        using (var stream = new ChunkedWriteStream(file))
        {
            stream.Write(data.AsSpan(0, 1000));               // buffered: the head of a chunk
            stream.SmallPieces = true;                        // writes the head out, then writes through
            Assert.Single(file.Writes);
            stream.Write(data.AsSpan(1000, 200_000));
            Assert.All(file.Writes.Skip(1), w => Assert.True(w.Count <= ChunkedWriteStream.SmallPieceBytes));
            Assert.Equal(1 + (200_000 + ChunkedWriteStream.SmallPieceBytes - 1) / ChunkedWriteStream.SmallPieceBytes, file.Writes.Count);
            stream.SmallPieces = false;
            stream.Write(data.AsSpan(201_000));
        }
        Assert.Equal(data, File.ReadAllBytes(path));
        // Back in chunk mode: the rest of the first chunk in one write, then the next chunk from its boundary.
        Assert.Equal((201_000L, Chunk - 201_000), file.Writes[^2]);
        Assert.Equal(((long)Chunk, 300_000), file.Writes[^1]);
    }

    [Fact]
    public void Seeks_over_holes_and_SetLength_give_the_same_bytes_as_a_memory_stream()
    {
        using var dir = new TempDirectory();
        string path = dir.File("holes.bin");
        var expected = new MemoryStream();
        var random = new Random(11);
        using (var stream = ChunkedWriteStream.Create(path))
        {
            for (int step = 0; step < 40; step++)
            {
                if (step % 7 == 3)
                {
                    long skip = random.Next(0, Chunk / 2);
                    stream.Seek(skip, SeekOrigin.Current);
                    expected.Seek(skip, SeekOrigin.Current);
                    continue;
                }
                var piece = new byte[random.Next(1, Chunk / 3)];
                random.NextBytes(piece);
                stream.Write(piece);
                expected.Write(piece);
            }
            stream.Seek(1000, SeekOrigin.Current);
            expected.Seek(1000, SeekOrigin.Current);
            stream.SetLength(stream.Position);
            expected.SetLength(expected.Position);
            Assert.Equal(expected.Length, stream.Length);
        }
        Assert.Equal(expected.ToArray(), File.ReadAllBytes(path));
    }

    [Fact]
    public async Task Async_writes_and_disposal_keep_every_byte_and_a_flush_makes_them_visible()
    {
        using var dir = new TempDirectory();
        string path = dir.File("async.bin");
        var data = new byte[Chunk + 777];
        new Random(5).NextBytes(data);
        var file = new FileStream(path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0, FileOptions.Asynchronous);
        await using (file)
        {
            await using (var stream = new ChunkedWriteStream(file, leaveOpen: true))
            {
                await stream.WriteAsync(data.AsMemory(0, 1000));
                // Buffered, not yet in the file: the file's length is what was written out (resumable downloads rely on it).
                Assert.Equal(0, file.Length);
                await stream.WriteAsync(data.AsMemory(1000));
                Assert.Equal(Chunk, file.Length);
                await stream.FlushAsync();
                Assert.Equal(data.Length, file.Length);
                await stream.WriteAsync(data.AsMemory(0, 10));
            }
            Assert.Equal(data.Length + 10, file.Length);
        }
        byte[] back = await File.ReadAllBytesAsync(path);
        Assert.Equal(data, back[..data.Length]);
        Assert.Equal(data[..10], back[data.Length..]);
    }

    [Fact]
    public void A_read_only_file_is_refused_by_name()
    {
        using var dir = new TempDirectory();
        string path = dir.File("ro.bin");
        File.WriteAllBytes(path, [1, 2, 3]);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read);
        var ex = Assert.Throws<ArgumentException>(() => new ChunkedWriteStream(file));
        Assert.Contains("ro.bin", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// A file stream that records the offset and length of every write that reaches it (a derived FileStream routes
    /// span writes through this overload too).
    /// </summary>
    private sealed class RecordingFileStream(string path) : FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0)
    {
        public List<(long Offset, int Count)> Writes { get; } = [];

        public override void Write(byte[] buffer, int offset, int count)
        {
            Writes.Add((Position, count));
            base.Write(buffer, offset, count);
        }

    }
}
