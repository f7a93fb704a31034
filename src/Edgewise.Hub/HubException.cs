namespace Edgewise.Hub;

/// <summary>What went wrong talking to the hub or the local store; each kind has a different remedy.</summary>
public enum HubErrorKind
{
    /// <summary>The repository is gated and no token was sent: accept the license on the hub and set HF_TOKEN.</summary>
    GatedNeedsToken,
    /// <summary>A token was sent but the hub refused it for this repository (license not accepted, or no access).</summary>
    AccessDenied,
    /// <summary>The repository, revision or file does not exist (the message lists close matches).</summary>
    NotFound,
    /// <summary>The reference names a repository with several candidate files and no quantization tag.</summary>
    AmbiguousFile,
    /// <summary>The hub kept answering 5xx/429 after bounded retries.</summary>
    ServerError,
    /// <summary>The connection dropped or timed out; the partial download is kept and the next pull resumes it.</summary>
    NetworkLost,
    /// <summary>The downloaded bytes do not hash to the hub's LFS sha256; the file was discarded, not installed.</summary>
    ChecksumMismatch,
    /// <summary>Not enough free disk space for the download; checked before any byte is fetched.</summary>
    InsufficientDisk,
    /// <summary>Offline mode and the model is not in the local store.</summary>
    NotAvailableOffline,
    /// <summary>The hub answered with something this client cannot read (bad JSON, missing header).</summary>
    InvalidResponse,
}

/// <summary>A hub or store failure a person can act on: the message says what, where, and what to do next.</summary>
public sealed class HubException : Exception
{
    public HubException(HubErrorKind kind, string message, Exception? inner = null)
        : base(message, inner) => Kind = kind;

    public HubErrorKind Kind { get; }

    /// <summary>The repository involved (<c>org/name</c>), when known.</summary>
    public string? Repository { get; init; }

    /// <summary>The file inside the repository, when known.</summary>
    public string? FileName { get; init; }

    /// <summary>HTTP status of the failing response, when there was one.</summary>
    public int? StatusCode { get; init; }
}
