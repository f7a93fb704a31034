using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Edgewise.Hub.Tests;

/// <summary>One request the fake hub or its CDN saw.</summary>
public sealed record SeenRequest(string Server, string Host, string Path, string? Authorization, string? Range, string? IfRange, int Status);

/// <summary>
/// A local stand-in for huggingface.co: a Kestrel "hub" on 127.0.0.1 serving model info, paged tree listings and
/// resolve redirects, and a second Kestrel "CDN" reached as <c>localhost</c> (another host name) serving blobs
/// with ETags and Range. Knobs inject the failures the client must survive.
/// </summary>
public sealed class FakeHub : IAsyncDisposable
{
    private readonly WebApplication _hub;
    private readonly WebApplication _cdn;
    private readonly ConcurrentDictionary<string, FakeRepo> _repos = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, byte[]> _blobs = new();

    public sealed class FakeRepo
    {
        public required string Commit { get; init; }
        public bool Gated { get; init; }
        public Dictionary<string, byte[]> Files { get; } = new(StringComparer.Ordinal);
    }

    private FakeHub(WebApplication hub, WebApplication cdn)
    {
        _hub = hub;
        _cdn = cdn;
    }

    public ConcurrentQueue<SeenRequest> Requests { get; } = new();
    public Uri HubUri { get; private set; } = null!;
    public Uri CdnUri { get; private set; } = null!;

    /// <summary>The token the hub accepts for gated repositories.</summary>
    public string ValidToken { get; set; } = "hf_test_token";

    /// <summary>Hub requests still to answer 503 before behaving.</summary>
    public int TransientFailures;

    /// <summary>When set, the next CDN response sends this many body bytes, then drops the connection.</summary>
    public long? AbortAfterBytes { get; set; }

    /// <summary>When set, the next CDN response sends this many body bytes, then goes silent (connection left open).</summary>
    public long? StallAfterBytes { get; set; }

    /// <summary>When true the CDN ignores Range (answers 200 with the whole blob), like some proxies.</summary>
    public bool IgnoreRange { get; set; }

    /// <summary>Blobs (by sha256) the CDN serves with one byte flipped.</summary>
    public ConcurrentDictionary<string, bool> Corrupt { get; } = new();

    /// <summary>Body bytes the CDN has sent, all responses together.</summary>
    public long CdnBytesSent => Interlocked.Read(ref _cdnBytesSent);
    private long _cdnBytesSent;

    public static async Task<FakeHub> StartAsync()
    {
        var hub = Build();
        var cdn = Build();
        var fake = new FakeHub(hub, cdn);
        fake.MapHub();
        fake.MapCdn();
        await hub.StartAsync();
        await cdn.StartAsync();
        fake.HubUri = new Uri(hub.Urls.Single());
        // Same loopback interface, different host name: the redirect crosses hosts as huggingface.co -> CDN does.
        fake.CdnUri = new Uri($"http://localhost:{new Uri(cdn.Urls.Single()).Port}");
        return fake;
    }

    public FakeRepo AddRepo(string repository, bool gated = false)
    {
        var repo = new FakeRepo { Commit = Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(repository)))[..40], Gated = gated };
        _repos[repository] = repo;
        return repo;
    }

    public void AddFile(string repository, string path, byte[] content)
    {
        _repos[repository].Files[path] = content;
        _blobs[Sha256(content)] = content;
    }

    public static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    public IEnumerable<SeenRequest> Seen(string server) => Requests.Where(r => r.Server == server);

    private static WebApplication Build()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.Urls.Add("http://127.0.0.1:0");
        return app;
    }

    // Logged as the response starts, before the client can see it, so a test never races the log.
    private void LogOnStart(string server, HttpContext ctx) => ctx.Response.OnStarting(() =>
    {
        Log(server, ctx);
        return Task.CompletedTask;
    });

    private void Log(string server, HttpContext ctx) =>
        Requests.Enqueue(new SeenRequest(server, ctx.Request.Host.Host, ctx.Request.Path + ctx.Request.QueryString,
            ctx.Request.Headers.Authorization.FirstOrDefault(), ctx.Request.Headers.Range.FirstOrDefault(),
            ctx.Request.Headers.IfRange.FirstOrDefault(), ctx.Response.StatusCode));

    private void MapHub()
    {
        _hub.Use(async (ctx, next) =>
        {
            LogOnStart("hub", ctx);
            if (Interlocked.Decrement(ref TransientFailures) >= 0)
            {
                ctx.Response.StatusCode = 503;
            }
            else
            {
                Interlocked.Exchange(ref TransientFailures, 0);
                await next(ctx);
            }
        });

        _hub.MapGet("/api/models/{org}/{name}/revision/{rev}", (string org, string name, string rev, HttpContext ctx) =>
        {
            if (!TryRepo(org, name, rev, ctx, out var repo))
            {
                return Task.CompletedTask;
            }
            return ctx.Response.WriteAsJsonAsync(new Dictionary<string, object>
            {
                ["id"] = $"{org}/{name}",
                ["sha"] = repo.Commit,
                ["gated"] = repo.Gated ? "manual" : false,
                ["private"] = false,
            });
        });

        // Paged two entries at a time with a Link header, as the real hub pages large repositories.
        _hub.MapGet("/api/models/{org}/{name}/tree/{rev}", (string org, string name, string rev, HttpContext ctx) =>
        {
            if (!TryRepo(org, name, rev, ctx, out var repo))
            {
                return Task.CompletedTask;
            }
            var cursor = int.TryParse(ctx.Request.Query["cursor"], out var c) ? c : 0;
            var entries = repo.Files.OrderBy(f => f.Key, StringComparer.Ordinal).Skip(cursor).Take(2).Select(f => f.Key.EndsWith(".gguf", StringComparison.Ordinal)
                ? (object)new { type = "file", path = f.Key, size = f.Value.Length, oid = "0123456789abcdef0123456789abcdef01234567", lfs = new { oid = Sha256(f.Value), size = f.Value.Length, pointerSize = 134 } }
                : new { type = "file", path = f.Key, size = f.Value.Length, oid = "89abcdef0123456789abcdef0123456789abcdef" }).ToList();
            if (cursor + 2 < repo.Files.Count)
            {
                ctx.Response.Headers.Link = $"<{HubUri.AbsoluteUri.TrimEnd('/')}/api/models/{org}/{name}/tree/{rev}?recursive=1&cursor={cursor + 2}>; rel=\"next\"";
            }
            return ctx.Response.WriteAsJsonAsync(entries);
        });

        _hub.MapGet("/{org}/{name}/resolve/{rev}/{**file}", (string org, string name, string rev, string file, HttpContext ctx) =>
        {
            if (!TryRepo(org, name, rev, ctx, out var repo))
            {
                return Task.CompletedTask;
            }
            if (repo.Gated)
            {
                var auth = ctx.Request.Headers.Authorization.FirstOrDefault();
                if (auth is null)
                {
                    return Error(ctx, 401, "GatedRepo", "Access to this model is restricted. You must be authenticated.");
                }
                if (auth != "Bearer " + ValidToken)
                {
                    return Error(ctx, 403, "GatedRepo", "Access denied for this token.");
                }
            }
            if (!repo.Files.TryGetValue(file, out var content))
            {
                return Error(ctx, 404, "EntryNotFound", $"{file} does not exist on {rev}");
            }
            var sha = Sha256(content);
            ctx.Response.Headers["X-Repo-Commit"] = repo.Commit;
            ctx.Response.Headers["X-Linked-Etag"] = $"\"{sha}\"";
            ctx.Response.Headers["X-Linked-Size"] = content.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
            ctx.Response.Redirect($"{CdnUri.AbsoluteUri.TrimEnd('/')}/blobs/{sha}?name={Uri.EscapeDataString(file)}");
            return Task.CompletedTask;
        });
    }

    private bool TryRepo(string org, string name, string rev, HttpContext ctx, out FakeRepo repo)
    {
        if (!_repos.TryGetValue($"{org}/{name}", out repo!))
        {
            Error(ctx, 404, "RepositoryNotFound", "Repository not found");
            return false;
        }
        if (rev != "main" && rev != repo.Commit)
        {
            Error(ctx, 404, "RevisionNotFound", $"Invalid rev id: {rev}");
            return false;
        }
        return true;
    }

    private static Task Error(HttpContext ctx, int status, string code, string message)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.Headers["X-Error-Code"] = code;
        ctx.Response.Headers["X-Error-Message"] = message;
        return ctx.Response.WriteAsync(JsonSerializer.Serialize(new { error = message }));
    }

    private void MapCdn()
    {
        _cdn.MapGet("/blobs/{sha}", async (string sha, HttpContext ctx) =>
        {
            LogOnStart("cdn", ctx);
            if (!_blobs.TryGetValue(sha, out var content))
            {
                ctx.Response.StatusCode = 404;
                return;
            }
            if (Corrupt.ContainsKey(sha))
            {
                content = (byte[])content.Clone();
                content[content.Length / 2] ^= 0x5A;
            }
            var etag = $"\"{sha}\"";
            ctx.Response.Headers.ETag = etag;
            ctx.Response.Headers.AcceptRanges = "bytes";
            long start = 0;
            var range = ctx.Request.Headers.Range.FirstOrDefault();
            var ifRange = ctx.Request.Headers.IfRange.FirstOrDefault();
            if (!IgnoreRange && range is not null && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-')
                && (ifRange is null || ifRange == etag))
            {
                start = long.Parse(range["bytes=".Length..^1], System.Globalization.CultureInfo.InvariantCulture);
                if (start >= content.Length)
                {
                    ctx.Response.StatusCode = 416;
                    ctx.Response.Headers.ContentRange = $"bytes */{content.Length}";
                    return;
                }
                ctx.Response.StatusCode = 206;
                ctx.Response.Headers.ContentRange = $"bytes {start}-{content.Length - 1}/{content.Length}";
            }
            ctx.Response.ContentLength = content.Length - start;
            var body = content.AsMemory((int)start);
            if (AbortAfterBytes is { } cut)
            {
                AbortAfterBytes = null;
                Interlocked.Add(ref _cdnBytesSent, cut);
                await ctx.Response.Body.WriteAsync(body[..(int)cut]);
                await ctx.Response.Body.FlushAsync();
                // Let the client drain what was sent before the connection goes away mid-body.
                await Task.Delay(200);
                ctx.Abort();
                return;
            }
            if (StallAfterBytes is { } stall)
            {
                StallAfterBytes = null;
                Interlocked.Add(ref _cdnBytesSent, stall);
                await ctx.Response.Body.WriteAsync(body[..(int)stall]);
                await ctx.Response.Body.FlushAsync();
                // Ends when the client gives up and closes the connection (or after a bound, so the server can stop).
                await Task.Delay(TimeSpan.FromSeconds(10), ctx.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
                return;
            }
            // Counted before writing: the client may finish reading before this handler resumes.
            Interlocked.Add(ref _cdnBytesSent, body.Length);
            await ctx.Response.Body.WriteAsync(body);
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _hub.StopAsync();
        await _cdn.StopAsync();
        await _hub.DisposeAsync();
        await _cdn.DisposeAsync();
    }
}
