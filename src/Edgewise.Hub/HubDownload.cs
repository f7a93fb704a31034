namespace Edgewise.Hub;

/// <summary>
/// An open file download: the response headers that matter for resuming, and a body reader that turns a
/// dropped connection or a silent server into <see cref="HubErrorKind.NetworkLost"/>.
/// </summary>
public sealed class HubDownload : IDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly Stream _body;
    private readonly TimeSpan _idleTimeout;

    private HubDownload(HttpResponseMessage response, Stream body, TimeSpan idleTimeout)
    {
        _response = response;
        _body = body;
        _idleTimeout = idleTimeout;
    }

    /// <summary>True for 206: the body starts at <see cref="Offset"/>. False: the body is the whole file from byte 0.</summary>
    public bool IsPartial { get; private init; }

    /// <summary>Byte position of the body's first byte in the file.</summary>
    public long Offset { get; private init; }

    /// <summary>Full file length when the server states it (Content-Range total, or Content-Length of a 200).</summary>
    public long? FileLength { get; private init; }

    /// <summary>ETag of the server that sent the bytes (the CDN after a redirect): what a later If-Range must carry.</summary>
    public string? ETag { get; private init; }

    /// <summary><c>X-Linked-Etag</c> from the hub (for LFS files, the quoted sha256).</summary>
    public string? LinkedETag { get; private init; }

    /// <summary><c>X-Repo-Commit</c> from the hub: the commit this file was resolved at.</summary>
    public string? Commit { get; private init; }

    internal static async Task<HubDownload> CreateAsync(HttpResponseMessage response, long requestedOffset, Dictionary<string, string> hubHeaders, string file,
        TimeSpan idleTimeout, CancellationToken cancellationToken)
    {
        var partial = response.StatusCode == System.Net.HttpStatusCode.PartialContent;
        long offset = 0;
        long? length = null;
        if (partial)
        {
            var range = response.Content.Headers.ContentRange;
            if (range?.From is not { } from)
            {
                throw new HubException(HubErrorKind.InvalidResponse, $"'{file}': HTTP 206 without a Content-Range header (asked for bytes {requestedOffset}-).") { FileName = file };
            }
            offset = from;
            length = range.Length;
        }
        else if (response.Content.Headers.ContentLength is { } contentLength)
        {
            length = contentLength;
        }
        hubHeaders.TryGetValue("X-Linked-Etag", out var linked);
        hubHeaders.TryGetValue("X-Repo-Commit", out var commit);
        var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        return new HubDownload(response, body, idleTimeout)
        {
            IsPartial = partial,
            Offset = offset,
            FileLength = length,
            ETag = response.Headers.ETag?.ToString(),
            LinkedETag = linked,
            Commit = commit,
        };
    }

    /// <summary>Reads the next chunk; 0 at the end. Throws <see cref="HubErrorKind.NetworkLost"/> on a drop or an idle timeout.</summary>
    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        idle.CancelAfter(_idleTimeout);
        try
        {
            return await _body.ReadAsync(buffer, idle.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            var why = ex is OperationCanceledException ? $"no data for {_idleTimeout.TotalSeconds:0.#} s" : ex.Message;
            throw new HubException(HubErrorKind.NetworkLost, $"The download was interrupted ({why}).", ex);
        }
    }

    public void Dispose()
    {
        _body.Dispose();
        _response.Dispose();
    }
}
