namespace Edgewise.Hub;

/// <summary>What the hub says about a repository at one revision.</summary>
/// <param name="Commit">The commit sha the revision resolved to (pin downloads to it).</param>
/// <param name="Gated">True when the repository requires accepting a license (and a token) to download.</param>
public sealed record HubModelInfo(string Repository, string Commit, bool Gated, bool Private);

/// <summary>One file of a repository listing.</summary>
/// <param name="Sha256">Lowercase hex sha256 from the LFS pointer; null for small files stored in git itself.</param>
public sealed record HubFile(string Path, long Size, string? Sha256);

/// <summary>Download progress, reported at most ~10 times a second.</summary>
/// <param name="BytesPerSecond">Rate over the bytes fetched in this session (resumed bytes excluded).</param>
/// <param name="Eta">Time left at the current rate; null until a rate is known.</param>
public readonly record struct DownloadProgress(string File, long BytesDone, long TotalBytes, double BytesPerSecond, TimeSpan? Eta);

/// <summary>A model in the local store; serialized as its manifest next to the file.</summary>
public sealed record InstalledModel
{
    public required string Repository { get; init; }
    public required string File { get; init; }
    /// <summary>The revision asked for (branch/tag/sha).</summary>
    public required string Revision { get; init; }
    /// <summary>The commit the file came from.</summary>
    public required string Commit { get; init; }
    public required long Size { get; init; }
    public string? Sha256 { get; init; }
    public string? Alias { get; init; }
    public required DateTimeOffset PulledAt { get; init; }

    /// <summary>Absolute path of the model file; set when read from the store, not stored in the manifest.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string Path { get; init; } = "";
}
