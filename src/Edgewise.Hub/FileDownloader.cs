using System.Buffers;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;

namespace Edgewise.Hub;

/// <summary>
/// Downloads one hub file into <c>{final}.partial</c>, resuming with a Range request when a partial exists,
/// hashing as it writes, and moving the file into place only when size and sha256 match the hub's listing.
/// </summary>
internal sealed class FileDownloader(HubClient hub, Func<string, long> freeSpace)
{
    private const int ChunkBytes = 1 << 20;
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(100);

    public async Task DownloadAsync(string repository, string commit, HubFile file, string finalPath, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        var directory = Path.GetDirectoryName(finalPath)!;
        Directory.CreateDirectory(directory);
        var partialPath = finalPath + ".partial";
        var statePath = partialPath + ".json";

        var have = ResumableBytes(repository, file, partialPath, statePath, out var etag);
        var free = freeSpace(directory);
        if (free < file.Size - have)
        {
            throw new HubException(HubErrorKind.InsufficientDisk,
                $"Not enough disk space for '{file.Path}' in {directory}: needs {Format(file.Size - have)} ({file.Size - have:N0} bytes) more, {Format(free)} ({free:N0} bytes) free. Free some space or set EDGEWISE_HOME to a larger disk.")
            { Repository = repository, FileName = file.Path };
        }

        // FileShare.None doubles as a lock: a second pull of the same file fails fast instead of interleaving.
        FileStream output;
        try
        {
            output = new FileStream(partialPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, bufferSize: 0, FileOptions.Asynchronous);
        }
        catch (IOException ex)
        {
            throw new HubException(HubErrorKind.NetworkLost, $"'{partialPath}' is in use, probably by another pull of the same model; wait for it or run again.", ex)
            { Repository = repository, FileName = file.Path };
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            await using (output.ConfigureAwait(false))
            {
                output.SetLength(have);
                if (have > 0)
                {
                    // The digest must cover the whole file, so a resume re-reads what is already on disk.
                    output.Position = 0;
                    await HashExistingAsync(output, have, hash, buffer, cancellationToken).ConfigureAwait(false);
                }
                if (have < file.Size || file.Size == 0)
                {
                    have = await FetchAsync(repository, commit, file, output, statePath, have, etag, hash, buffer, progress, cancellationToken).ConfigureAwait(false);
                }
                await output.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (have < file.Size)
        {
            throw new HubException(HubErrorKind.NetworkLost, $"The server ended '{file.Path}' early: {have:N0} of {file.Size:N0} bytes.")
            { Repository = repository, FileName = file.Path };
        }
        var sha = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (have != file.Size || (file.Sha256 is not null && sha != file.Sha256))
        {
            Discard(partialPath, statePath);
            throw new HubException(HubErrorKind.ChecksumMismatch,
                $"'{file.Path}' from '{repository}' failed verification: expected {file.Size:N0} bytes with sha256 {file.Sha256 ?? "(not listed)"}, got {have:N0} bytes with sha256 {sha}. The download was discarded; run the pull again.")
            { Repository = repository, FileName = file.Path };
        }
        File.Move(partialPath, finalPath, overwrite: true);
        File.Delete(statePath);
        progress?.Report(new DownloadProgress(file.Path, have, file.Size, 0, TimeSpan.Zero));
    }

    private async Task<long> FetchAsync(string repository, string commit, HubFile file, FileStream output, string statePath, long have, string? etag,
        IncrementalHash hash, byte[] buffer, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        using var download = await hub.OpenFileAsync(repository, commit, file.Path, have, have > 0 ? etag : null, cancellationToken).ConfigureAwait(false);
        if (have > 0 && (!download.IsPartial || download.Offset != have))
        {
            // The server ignored Range, or If-Range saw a different ETag: the bytes on disk are not a prefix
            // of what is coming, so start over from zero.
            if (download.IsPartial)
            {
                throw new HubException(HubErrorKind.InvalidResponse, $"'{file.Path}': asked for bytes {have}-, the server sent bytes from {download.Offset}.")
                { Repository = repository, FileName = file.Path };
            }
            have = 0;
            output.SetLength(0);
            hash.GetHashAndReset();
        }
        output.Position = have;
        // Written as the network hands it over, in small pieces, so the page cache holds the new file in small folios:
        // the PLE table is read a row at a time, and a cached 2 MiB folio would map whole on the first row's touch
        // (see RowTables). The Q4_0 and Q8_0 matrices get their huge pages from the repack cache instead.
        WriteState(statePath, new PartialState(repository, commit, file.Path, file.Size, file.Sha256, download.ETag ?? download.LinkedETag));

        var clock = Stopwatch.StartNew();
        var startedAt = have;
        var lastReport = TimeSpan.Zero;
        try
        {
            while (true)
            {
                var read = await download.ReadAsync(buffer.AsMemory(0, ChunkBytes), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }
                await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                hash.AppendData(buffer, 0, read);
                have += read;
                if (progress is not null && clock.Elapsed - lastReport >= ProgressInterval)
                {
                    lastReport = clock.Elapsed;
                    progress.Report(Progress(file, have, startedAt, clock.Elapsed));
                }
            }
        }
        catch (HubException ex) when (ex.Kind == HubErrorKind.NetworkLost)
        {
            await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            throw new HubException(HubErrorKind.NetworkLost, $"{ex.Message} Kept {have:N0} of {file.Size:N0} bytes of '{file.Path}'.", ex)
            { Repository = repository, FileName = file.Path };
        }
        return have;
    }

    private static DownloadProgress Progress(HubFile file, long have, long startedAt, TimeSpan elapsed)
    {
        var rate = elapsed.TotalSeconds > 0 ? (have - startedAt) / elapsed.TotalSeconds : 0;
        TimeSpan? eta = rate > 0 ? TimeSpan.FromSeconds((file.Size - have) / rate) : null;
        return new DownloadProgress(file.Path, have, file.Size, rate, eta);
    }

    /// <summary>Bytes of an earlier partial that still belong to this exact file (same repo, path, size and sha256).</summary>
    private static long ResumableBytes(string repository, HubFile file, string partialPath, string statePath, out string? etag)
    {
        etag = null;
        if (!File.Exists(partialPath))
        {
            return 0;
        }
        PartialState? state = null;
        try
        {
            state = File.Exists(statePath) ? JsonSerializer.Deserialize(File.ReadAllText(statePath), HubJsonContext.Default.PartialState) : null;
        }
        catch (JsonException)
        {
            // A torn sidecar only costs a restart.
        }
        var length = new FileInfo(partialPath).Length;
        if (state is null || state.Repository != repository || state.File != file.Path || state.Size != file.Size || state.Sha256 != file.Sha256 || length > file.Size)
        {
            Discard(partialPath, statePath);
            return 0;
        }
        etag = state.ETag;
        return length;
    }

    private static async Task HashExistingAsync(FileStream stream, long length, IncrementalHash hash, byte[] buffer, CancellationToken cancellationToken)
    {
        var left = length;
        while (left > 0)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(ChunkBytes, left)), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new IOException($"'{stream.Name}' shrank while being re-hashed: {length - left:N0} of {length:N0} bytes read.");
            }
            hash.AppendData(buffer, 0, read);
            left -= read;
        }
    }

    private static void WriteState(string statePath, PartialState state)
    {
        var temp = statePath + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(state, HubJsonContext.Default.PartialState));
        File.Move(temp, statePath, overwrite: true);
    }

    private static void Discard(string partialPath, string statePath)
    {
        File.Delete(partialPath);
        File.Delete(statePath);
    }

    internal static string Format(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.00} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.0} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:0.0} KiB",
        _ => $"{bytes} B",
    };
}
