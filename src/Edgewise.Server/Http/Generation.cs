using Edgewise.Server.Backend;
using Edgewise.Server.Hosting;
using Microsoft.AspNetCore.Http;

namespace Edgewise.Server.Http;

/// <summary>
/// One admitted generation: it holds a queue slot and the backend's event stream, with the first
/// event already pulled so that the backend's validation errors surface before any status code is
/// sent. The client's connection token flows into the backend; dispose releases both.
/// </summary>
internal sealed class Generation : IAsyncDisposable
{
    private readonly ServerState _server;
    private readonly AdmissionQueue.Lease _lease;
    private readonly IAsyncEnumerator<GenerationEvent> _events;
    private readonly CancellationToken _aborted;
    private bool _hasCurrent;
    private bool _finished;

    private Generation(ServerState server, AdmissionQueue.Lease lease, IAsyncEnumerator<GenerationEvent> events, bool hasCurrent, CancellationToken aborted)
    {
        _server = server;
        _lease = lease;
        _events = events;
        _hasCurrent = hasCurrent;
        _aborted = aborted;
    }

    /// <summary>
    /// Admits the request and pulls its first event. With <paramref name="sseKeepAlive"/>, a wait longer than
    /// <see cref="ServerOptions.KeepAliveInterval"/> (a full queue ahead, a long prefill) starts the SSE response and
    /// sends <c>: keep-alive</c> comments until the first event; an error after that goes out in-band.
    /// </summary>
    public static async Task<Generation> StartAsync(ServerState server, GenerationRequest request, HttpContext http, bool sseKeepAlive = false)
    {
        TimeSpan interval = server.Options.KeepAliveInterval;
        if (!sseKeepAlive || interval <= TimeSpan.Zero)
            return await StartCoreAsync(server, request, http);

        var start = StartCoreAsync(server, request, http);
        EventStreamWriter? writer = null;
        using var tick = new PeriodicTimer(interval);
        while (!start.IsCompleted)
        {
            var next = tick.WaitForNextTickAsync(http.RequestAborted).AsTask();
            if (await Task.WhenAny(start, next) != next || start.IsCompleted)
                break;
            try
            {
                if (!await next)
                    break;
            }
            catch (OperationCanceledException)
            {
                // The client hung up: the backend sees the same token and stops; its outcome is awaited below.
                break;
            }
            // The 429 and every check made before the wait have been answered with a status already.
            writer ??= EventStreamWriter.StartSse(http);
            await writer.WriteKeepAliveAsync();
        }

        try
        {
            return await start;
        }
        catch (Exception ex) when (writer is not null && !http.RequestAborted.IsCancellationRequested)
        {
            // The 200 is out: report in-band, as a stream that fails midway does, and end the response.
            await writer.WriteAsync(ErrorHandlingMiddleware.ToEnvelope(ErrorHandlingMiddleware.ToApiException(ex)), Json.ServerJsonContext.Default.ErrorEnvelopeDto);
            throw new ErrorSentInBandException(ex);
        }
    }

    private static async Task<Generation> StartCoreAsync(ServerState server, GenerationRequest request, HttpContext http)
    {
        EnsureReady(server.Backend);
        var aborted = http.RequestAborted;
        var lease = await server.Queue.TryEnterAsync(aborted);
        if (lease is null)
        {
            server.Metrics.RecordRejected();
            throw new ApiException(StatusCodes.Status429TooManyRequests, ErrorTypes.RateLimit,
                $"The server is busy: {server.Queue.Parallel} generations are running and {server.Queue.Capacity} are waiting. Retry shortly.",
                code: "queue_full")
            { RetryAfterSeconds = server.Options.RetryAfterSeconds };
        }

        IAsyncEnumerator<GenerationEvent>? events = null;
        try
        {
            events = server.Backend.GenerateAsync(request, aborted).GetAsyncEnumerator(aborted);
            var hasFirst = await events.MoveNextAsync();
            return new Generation(server, lease, events, hasFirst, aborted);
        }
        catch
        {
            if (aborted.IsCancellationRequested)
                server.Metrics.RecordDisconnect();
            if (events is not null)
                await events.DisposeAsync();
            lease.Dispose();
            throw;
        }
    }

    /// <summary>503 while the model loads or after it failed, so load balancers and clients retry elsewhere.</summary>
    public static void EnsureReady(IChatBackend backend)
    {
        var status = backend.Status;
        if (status.State == BackendState.Ready)
            return;
        var message = status.State == BackendState.Loading
            ? "The model is still loading. Retry shortly."
            : $"The model failed to load: {status.Message}";
        throw new ApiException(StatusCodes.Status503ServiceUnavailable, ErrorTypes.Unavailable, message, code: "model_not_ready")
        { RetryAfterSeconds = status.State == BackendState.Loading ? 5 : null };
    }

    /// <summary>All events, the pre-pulled first one included. Usage is recorded on the way through.</summary>
    public async IAsyncEnumerable<GenerationEvent> ReadAllAsync()
    {
        try
        {
            while (_hasCurrent)
            {
                var current = _events.Current;
                if (current is UsageEvent usage)
                    _server.Metrics.RecordUsage(usage.Usage);
                yield return current;
                _hasCurrent = await _events.MoveNextAsync();
            }

            _finished = true;
        }
        finally
        {
            if (!_finished && _aborted.IsCancellationRequested)
                _server.Metrics.RecordDisconnect();
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _events.DisposeAsync();
        }
        finally
        {
            _lease.Dispose();
        }
    }
}

/// <summary>A request failed after its stream had started, and the error went out in the stream: nothing more to write.</summary>
internal sealed class ErrorSentInBandException(Exception inner) : Exception("The error was reported in the event stream: " + inner.Message, inner);
