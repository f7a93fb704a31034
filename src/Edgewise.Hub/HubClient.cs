using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Edgewise.Hub;

/// <summary>
/// The Hugging Face hub's HTTP API, as much of it as pulling a model needs: model info, recursive file listing
/// (with LFS sha256), and resolve URLs. Redirects are followed by hand so the token is only ever sent to the
/// hub's own host, never to the CDN it redirects to. One instance per process; thread-safe.
/// </summary>
public sealed class HubClient : IDisposable
{
    private const int MaxRedirects = 10;
    private readonly HttpClient _http;
    private readonly HubClientOptions _options;

    public HubClient(HubClientOptions? options = null, HttpMessageHandler? handler = null)
    {
        _options = options ?? HubClientOptions.FromEnvironment();
        handler ??= new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            ConnectTimeout = _options.RequestTimeout,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        };
        // Timeouts are applied per request and per body read, so a slow but live multi-GB download never trips.
        _http = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd(_options.UserAgent);
    }

    public HubClientOptions Options => _options;

    /// <summary>Total HTTP requests sent (every hop and retry), so callers and tests can prove offline means offline.</summary>
    public int RequestCount => _requestCount;
    private int _requestCount;

    /// <summary><c>GET /api/models/{repo}/revision/{rev}</c>: the commit the revision points at and whether the repo is gated.</summary>
    public async Task<HubModelInfo> GetModelInfoAsync(string repository, string revision, CancellationToken cancellationToken = default)
    {
        var uri = ApiUri($"api/models/{repository}/revision/{Uri.EscapeDataString(revision)}");
        using var response = await SendAsync(uri, null, repository, null, cancellationToken).ConfigureAwait(false);
        var dto = await ReadJsonAsync(response, HubJsonContext.Default.HubModelInfoDto, uri, cancellationToken).ConfigureAwait(false);
        if (string.IsNullOrEmpty(dto.Sha))
        {
            throw new HubException(HubErrorKind.InvalidResponse, $"{uri}: expected a 'sha' field with the commit id, found none.") { Repository = repository };
        }
        var gated = dto.Gated.ValueKind switch
        {
            JsonValueKind.String => !string.Equals(dto.Gated.GetString(), "false", StringComparison.OrdinalIgnoreCase),
            JsonValueKind.True => true,
            _ => false,
        };
        return new HubModelInfo(dto.Id ?? repository, dto.Sha, gated, dto.Private ?? false);
    }

    /// <summary><c>GET /api/models/{repo}/tree/{rev}?recursive=1</c>, following <c>Link: rel="next"</c> pages; files only.</summary>
    public async Task<IReadOnlyList<HubFile>> ListFilesAsync(string repository, string revision, CancellationToken cancellationToken = default)
    {
        var files = new List<HubFile>();
        Uri? uri = ApiUri($"api/models/{repository}/tree/{Uri.EscapeDataString(revision)}?recursive=1");
        for (var page = 0; uri is not null && page < 1000; page++)
        {
            using var response = await SendAsync(uri, null, repository, null, cancellationToken).ConfigureAwait(false);
            var entries = await ReadJsonAsync(response, HubJsonContext.Default.HubTreeEntryDtoArray, uri, cancellationToken).ConfigureAwait(false);
            foreach (var e in entries)
            {
                if (e.Type != "file" || string.IsNullOrEmpty(e.Path))
                {
                    continue;
                }
                var sha = e.Lfs?.Oid;
                if (sha is not null && sha.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase))
                {
                    sha = sha["sha256:".Length..];
                }
                files.Add(new HubFile(e.Path, e.Lfs?.Size ?? e.Size ?? 0, sha?.ToLowerInvariant()));
            }
            uri = NextPage(response, uri);
        }
        return files;
    }

    /// <summary>
    /// Opens <c>GET /{repo}/resolve/{rev}/{file}</c> from byte <paramref name="offset"/>, following redirects.
    /// With <paramref name="ifRange"/> the server sends the rest only if the file still has that ETag, else all
    /// of it (status 200): the caller checks <see cref="HubDownload.IsPartial"/> before appending.
    /// </summary>
    public async Task<HubDownload> OpenFileAsync(string repository, string revision, string file, long offset = 0, string? ifRange = null, CancellationToken cancellationToken = default)
    {
        var path = string.Join('/', file.Split('/').Select(Uri.EscapeDataString));
        var uri = ApiUri($"{repository}/resolve/{Uri.EscapeDataString(revision)}/{path}");
        var hubHeaders = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var response = await SendAsync(uri, offset > 0 ? (offset, ifRange) : null, repository, file, cancellationToken, hubHeaders).ConfigureAwait(false);
        try
        {
            return await HubDownload.CreateAsync(response, offset, hubHeaders, file, _options.ReadIdleTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    private Uri ApiUri(string relative) => new(_options.Endpoint.AbsoluteUri.TrimEnd('/') + "/" + relative);

    /// <summary>
    /// Sends a GET, retrying 5xx/429 and refused connections with exponential backoff, following redirects by
    /// hand. Returns a success response with headers read and the body unread; maps failures to <see cref="HubException"/>.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(Uri uri, (long Offset, string? IfRange)? range, string repository, string? file,
        CancellationToken cancellationToken, Dictionary<string, string>? hubHeaders = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            HttpResponseMessage? response = null;
            var current = uri;
            try
            {
                for (var hop = 0; ; hop++)
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, current);
                    // The token goes to the hub only: a redirect to a CDN (another host) must not carry it.
                    if (_options.Token is not null && IsHubHost(current))
                    {
                        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _options.Token);
                    }
                    if (range is { } r)
                    {
                        request.Headers.Range = new RangeHeaderValue(r.Offset, null);
                        if (r.IfRange is { } tag && !tag.StartsWith("W/", StringComparison.Ordinal))
                        {
                            request.Headers.TryAddWithoutValidation("If-Range", tag);
                        }
                    }
                    response = await SendOnceAsync(request, cancellationToken).ConfigureAwait(false);
                    if (hubHeaders is not null)
                    {
                        CaptureHubHeaders(response, hubHeaders);
                    }
                    var status = (int)response.StatusCode;
                    if (status is >= 300 and < 400 && response.Headers.Location is { } location)
                    {
                        if (hop >= MaxRedirects)
                        {
                            throw new HubException(HubErrorKind.InvalidResponse, $"{uri}: more than {MaxRedirects} redirects.") { Repository = repository, FileName = file };
                        }
                        current = location.IsAbsoluteUri ? location : new Uri(current, location);
                        response.Dispose();
                        response = null;
                        continue;
                    }
                    break;
                }

                var code = (int)response.StatusCode;
                if (response.IsSuccessStatusCode)
                {
                    var ok = response;
                    response = null;
                    return ok;
                }
                if ((code >= 500 || code == 429) && attempt < _options.MaxAttempts)
                {
                    await Task.Delay(RetryDelay(response, attempt), cancellationToken).ConfigureAwait(false);
                    continue;
                }
                throw StatusError(response, current, repository, file);
            }
            catch (HttpRequestException ex) when (!cancellationToken.IsCancellationRequested)
            {
                if (attempt < _options.MaxAttempts)
                {
                    await Task.Delay(RetryDelay(null, attempt), cancellationToken).ConfigureAwait(false);
                    continue;
                }
                throw new HubException(HubErrorKind.NetworkLost,
                    $"Could not reach {current.GetLeftPart(UriPartial.Authority)} after {attempt} attempts ({ex.Message}). Check the network and run the command again; partial downloads resume.", ex)
                { Repository = repository, FileName = file };
            }
            finally
            {
                response?.Dispose();
            }
        }
    }

    private async Task<HttpResponseMessage> SendOnceAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _requestCount);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.RequestTimeout);
        try
        {
            return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Surface as a transport failure so the retry loop treats a hung server like a refused one.
            throw new HttpRequestException($"no response within {_options.RequestTimeout.TotalSeconds:0.#} s from {request.RequestUri}", ex);
        }
    }

    private bool IsHubHost(Uri uri) =>
        string.Equals(uri.Scheme, _options.Endpoint.Scheme, StringComparison.OrdinalIgnoreCase) &&
        string.Equals(uri.IdnHost, _options.Endpoint.IdnHost, StringComparison.OrdinalIgnoreCase) &&
        uri.Port == _options.Endpoint.Port;

    private TimeSpan RetryDelay(HttpResponseMessage? response, int attempt)
    {
        var backoff = _options.RetryBaseDelay * Math.Pow(2, attempt - 1);
        // Honour a short Retry-After (rate limiting) but never wait longer than our own cap.
        if (response?.Headers.RetryAfter?.Delta is { } delta && delta > backoff)
        {
            backoff = delta < TimeSpan.FromSeconds(30) ? delta : TimeSpan.FromSeconds(30);
        }
        return backoff;
    }

    private static void CaptureHubHeaders(HttpResponseMessage response, Dictionary<string, string> into)
    {
        foreach (var name in (ReadOnlySpan<string>)["X-Repo-Commit", "X-Linked-Etag", "X-Linked-Size", "ETag"])
        {
            if (response.Headers.TryGetValues(name, out var values) && !into.ContainsKey(name))
            {
                into[name] = values.First();
            }
        }
    }

    private HubException StatusError(HttpResponseMessage response, Uri uri, string repository, string? file)
    {
        var code = (int)response.StatusCode;
        var errorCode = Header(response, "X-Error-Code");
        var detail = Header(response, "X-Error-Message") is { } m ? $" The hub says: {m}" : "";
        var what = file is null ? $"repository '{repository}'" : $"'{file}' in repository '{repository}'";
        if (code is 401 or 403)
        {
            if (errorCode == "RepositoryNotFound")
            {
                return new HubException(HubErrorKind.NotFound,
                    $"Repository '{repository}' was not found on {_options.Endpoint.Host} (or it is private: set HF_TOKEN to a token that can read it).{detail}")
                { Repository = repository, FileName = file, StatusCode = code };
            }
            if (_options.Token is null)
            {
                return new HubException(HubErrorKind.GatedNeedsToken,
                    $"{what} is gated: accept its license at {_options.Endpoint.AbsoluteUri.TrimEnd('/')}/{repository}, then set HF_TOKEN to an access token (HTTP {code}).{detail}")
                { Repository = repository, FileName = file, StatusCode = code };
            }
            return new HubException(HubErrorKind.AccessDenied,
                $"The token in HF_TOKEN may not read {what} (HTTP {code}): accept the license at {_options.Endpoint.AbsoluteUri.TrimEnd('/')}/{repository} with that account, or use a token with read access.{detail}")
            { Repository = repository, FileName = file, StatusCode = code };
        }
        if (code == 404)
        {
            return new HubException(HubErrorKind.NotFound, $"{what} was not found on {_options.Endpoint.Host} (HTTP 404 for {uri.AbsolutePath}).{detail}")
            { Repository = repository, FileName = file, StatusCode = code };
        }
        if (code >= 500 || code == 429)
        {
            return new HubException(HubErrorKind.ServerError,
                $"The hub kept failing for {what}: HTTP {code} after {_options.MaxAttempts} attempts. Try again later.{detail}")
            { Repository = repository, FileName = file, StatusCode = code };
        }
        return new HubException(HubErrorKind.InvalidResponse, $"Unexpected HTTP {code} for {uri}.{detail}") { Repository = repository, FileName = file, StatusCode = code };
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    private async Task<T> ReadJsonAsync<T>(HttpResponseMessage response, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, Uri uri, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.RequestTimeout);
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            return await JsonSerializer.DeserializeAsync(stream, type, timeout.Token).ConfigureAwait(false)
                ?? throw new HubException(HubErrorKind.InvalidResponse, $"{uri}: expected a JSON document, found 'null'.");
        }
        catch (JsonException ex)
        {
            throw new HubException(HubErrorKind.InvalidResponse, $"{uri}: the hub's JSON could not be read at {ex.Path ?? "$"} ({ex.Message}).", ex);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw new HubException(HubErrorKind.NetworkLost, $"{uri}: the connection dropped while reading the response ({ex.Message}). Run the command again.", ex);
        }
    }

    private static Uri? NextPage(HttpResponseMessage response, Uri current)
    {
        if (!response.Headers.TryGetValues("Link", out var links))
        {
            return null;
        }
        // Link: <https://huggingface.co/api/models/x/tree/main?recursive=1&cursor=...>; rel="next"
        foreach (var link in links.SelectMany(l => l.Split(',')))
        {
            var parts = link.Split(';');
            if (parts.Length >= 2 && parts[1..].Any(p => p.Trim() is "rel=\"next\"" or "rel=next"))
            {
                var target = parts[0].Trim().TrimStart('<').TrimEnd('>');
                return Uri.TryCreate(current, target, out var next) ? next : null;
            }
        }
        return null;
    }

    public void Dispose() => _http.Dispose();
}
