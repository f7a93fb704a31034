using System.Text.Json;

namespace Edgewise.Hub;

/// <summary>Where the store lives and how it measures free space (tests inject a probe).</summary>
public sealed record ModelStoreOptions
{
    /// <summary>Store root; <c>EDGEWISE_HOME</c> or <c>~/.edgewise</c> by default.</summary>
    public string Root { get; init; } = DefaultRoot();

    /// <summary>
    /// How many times one pull resumes by itself after the connection drops mid-file, before giving up with
    /// <see cref="HubErrorKind.NetworkLost"/> (the partial is kept either way).
    /// </summary>
    public int AutoResumeAttempts { get; init; } = 3;

    /// <summary>Pause before an automatic resume; doubled each time.</summary>
    public TimeSpan AutoResumeDelay { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Free bytes on the volume holding a directory.</summary>
    public Func<string, long> FreeSpace { get; init; } = DefaultFreeSpace;

    public static string DefaultRoot()
    {
        var home = Environment.GetEnvironmentVariable("EDGEWISE_HOME");
        return string.IsNullOrWhiteSpace(home)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".edgewise")
            : Path.GetFullPath(home);
    }

    private static long DefaultFreeSpace(string directory) => new DriveInfo(Path.GetFullPath(directory)).AvailableFreeSpace;
}

/// <summary>
/// The local model store: <c>{root}/models/{org}/{repo}/{file}</c>, each with a <c>{file}.edgewise.json</c>
/// manifest (repo, revision, commit, size, sha256, pulled-at). Files appear only after verification, by an
/// atomic rename, so anything with a manifest is complete.
/// </summary>
public sealed class ModelStore
{
    private const string ManifestSuffix = ".edgewise.json";
    private readonly HubClient? _hub;
    private readonly ModelStoreOptions _options;

    /// <param name="hub">Null for a store that must never touch the network.</param>
    public ModelStore(HubClient? hub, ModelStoreOptions? options = null)
    {
        _hub = hub;
        _options = options ?? new ModelStoreOptions();
    }

    public string Root => _options.Root;

    private string ModelsDirectory => Path.Combine(_options.Root, "models");

    /// <summary>Every installed model, newest first. Manifests whose file vanished are skipped.</summary>
    public IReadOnlyList<InstalledModel> List()
    {
        if (!Directory.Exists(ModelsDirectory))
        {
            return [];
        }
        var models = new List<InstalledModel>();
        foreach (var manifestPath in Directory.EnumerateFiles(ModelsDirectory, "*" + ManifestSuffix, SearchOption.AllDirectories))
        {
            InstalledModel? model;
            try
            {
                model = JsonSerializer.Deserialize(File.ReadAllText(manifestPath), HubJsonContext.Default.InstalledModel);
            }
            catch (JsonException)
            {
                continue;
            }
            var path = manifestPath[..^ManifestSuffix.Length];
            if (model is not null && File.Exists(path))
            {
                models.Add(model with { Path = path });
            }
        }
        models.Sort((a, b) => b.PulledAt.CompareTo(a.PulledAt));
        return models;
    }

    /// <summary>The installed model a reference names, or null. Never touches the network.</summary>
    public InstalledModel? FindLocal(ModelReference reference)
    {
        foreach (var model in List())
        {
            if (!string.Equals(model.Repository, reference.Repository, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            if (reference.Revision != ModelReference.DefaultRevision &&
                model.Revision != reference.Revision && !model.Commit.StartsWith(reference.Revision, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }
            var fileMatches = reference.File is { } file
                ? string.Equals(model.File, file, StringComparison.OrdinalIgnoreCase)
                : reference.Quant is not { } quant || FileSelector.MatchesQuant(model.File, quant);
            if (fileMatches)
            {
                return model;
            }
        }
        return null;
    }

    /// <summary>Deletes every installed file the reference names (and its manifest). Returns what was removed.</summary>
    public IReadOnlyList<InstalledModel> Remove(ModelReference reference)
    {
        var removed = new List<InstalledModel>();
        for (var model = FindLocal(reference); model is not null; model = FindLocal(reference))
        {
            File.Delete(model.Path + ManifestSuffix);
            File.Delete(model.Path);
            removed.Add(model);
            PruneEmptyDirectories(Path.GetDirectoryName(model.Path)!);
        }
        return removed;
    }

    /// <summary>Deletes unfinished downloads (<c>.partial</c> files) the reference names. Returns the model paths they were for.</summary>
    public IReadOnlyList<string> RemovePartials(ModelReference reference)
    {
        var removed = new List<string>();
        var repoDirectory = Path.Combine([ModelsDirectory, .. reference.Repository.Split('/')]);
        if (!Directory.Exists(repoDirectory))
        {
            return removed;
        }
        foreach (var partial in Directory.EnumerateFiles(repoDirectory, "*.partial", SearchOption.AllDirectories).ToList())
        {
            var target = partial[..^".partial".Length];
            var file = Path.GetRelativePath(repoDirectory, target).Replace('\\', '/');
            var matches = reference.File is { } wanted
                ? string.Equals(file, wanted, StringComparison.OrdinalIgnoreCase)
                : reference.Quant is not { } quant || FileSelector.MatchesQuant(file, quant);
            if (matches)
            {
                File.Delete(partial);
                File.Delete(partial + ".json");
                removed.Add(target);
            }
        }
        PruneEmptyDirectories(repoDirectory);
        return removed;
    }

    /// <summary>
    /// Turns what the user typed into a local file path: an existing file path as is; else an installed
    /// model; else (unless <paramref name="offline"/>) a pull. Offline never sends a request.
    /// </summary>
    public async Task<string> ResolveAsync(string model, bool offline, IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (File.Exists(model))
        {
            return Path.GetFullPath(model);
        }
        if (model.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) && (model.Contains('/', StringComparison.Ordinal) || model.Contains('\\', StringComparison.Ordinal)) && !model.StartsWith("hf.co/", StringComparison.OrdinalIgnoreCase))
        {
            throw new FileNotFoundException($"Model file '{Path.GetFullPath(model)}' does not exist.", model);
        }
        var reference = ModelReference.Parse(model);
        if (FindLocal(reference) is { } local)
        {
            return local.Path;
        }
        if (offline || _hub is null)
        {
            throw new HubException(HubErrorKind.NotAvailableOffline,
                $"Model '{reference.Text}' is not in the local store ({ModelsDirectory}) and offline mode forbids downloading it. " +
                $"Run `{reference.PullCommand}` first, or pass a path to a local .gguf file.")
            { Repository = reference.Repository, FileName = reference.File };
        }
        return (await PullAsync(reference, progress, cancellationToken).ConfigureAwait(false)).Path;
    }

    /// <summary>
    /// Downloads the file a reference names into the store (resuming a partial, verifying sha256) and writes its
    /// manifest. If the same file (same sha256) is already installed, returns it without downloading.
    /// </summary>
    public async Task<InstalledModel> PullAsync(ModelReference reference, IProgress<DownloadProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var hub = _hub ?? throw new HubException(HubErrorKind.NotAvailableOffline, $"This store has no hub client; cannot pull '{reference.Text}'.");
        var info = await hub.GetModelInfoAsync(reference.Repository, reference.Revision, cancellationToken).ConfigureAwait(false);
        if (info.Gated && hub.Options.Token is null)
        {
            throw new HubException(HubErrorKind.GatedNeedsToken,
                $"Repository '{reference.Repository}' is gated: accept its license at {hub.Options.Endpoint.AbsoluteUri.TrimEnd('/')}/{reference.Repository}, then set HF_TOKEN to an access token.")
            { Repository = reference.Repository };
        }
        // Pin every later request to the commit, so the listing and the bytes cannot come from different revisions.
        var files = await hub.ListFilesAsync(reference.Repository, info.Commit, cancellationToken).ConfigureAwait(false);
        var file = FileSelector.Select(reference, files);
        var finalPath = LocalPath(reference.Repository, file.Path);

        if (FindInstalled(finalPath) is { } existing && existing.Size == file.Size && existing.Sha256 == file.Sha256 && new FileInfo(finalPath).Length == file.Size)
        {
            return existing;
        }

        var downloader = new FileDownloader(hub, _options.FreeSpace);
        for (var resume = 0; ; resume++)
        {
            try
            {
                await downloader.DownloadAsync(reference.Repository, info.Commit, file, finalPath, progress, cancellationToken).ConfigureAwait(false);
                break;
            }
            catch (HubException ex) when (ex.Kind == HubErrorKind.NetworkLost && resume < _options.AutoResumeAttempts)
            {
                // A dropped connection mid-file is common on long downloads; the partial is intact, so resume.
                await Task.Delay(_options.AutoResumeDelay * Math.Pow(2, resume), cancellationToken).ConfigureAwait(false);
            }
            catch (HubException ex) when (ex.Kind == HubErrorKind.NetworkLost)
            {
                throw new HubException(HubErrorKind.NetworkLost, $"{ex.Message} Run `{reference.PullCommand}` again to resume.", ex)
                { Repository = reference.Repository, FileName = file.Path };
            }
        }

        var installed = new InstalledModel
        {
            Repository = reference.Repository,
            File = file.Path,
            Revision = reference.Revision,
            Commit = info.Commit,
            Size = file.Size,
            Sha256 = file.Sha256,
            Alias = reference.Alias,
            PulledAt = DateTimeOffset.UtcNow,
            Path = finalPath,
        };
        var manifest = finalPath + ManifestSuffix;
        File.WriteAllText(manifest + ".tmp", JsonSerializer.Serialize(installed, HubJsonContext.Default.InstalledModel));
        File.Move(manifest + ".tmp", manifest, overwrite: true);
        return installed;
    }

    /// <summary>Store path for a repository file; rejects hub paths that would escape the store.</summary>
    private string LocalPath(string repository, string file)
    {
        var segments = repository.Split('/').Concat(file.Split('/')).ToArray();
        foreach (var s in segments)
        {
            if (s.Length == 0 || s == "." || s == ".." || s.Contains('\\', StringComparison.Ordinal) || s.Contains(':', StringComparison.Ordinal))
            {
                throw new HubException(HubErrorKind.InvalidResponse, $"Refusing file path '{file}' from '{repository}': segment '{s}' is not a plain name.")
                { Repository = repository, FileName = file };
            }
        }
        return Path.Combine([ModelsDirectory, .. segments]);
    }

    private static InstalledModel? FindInstalled(string path)
    {
        var manifest = path + ManifestSuffix;
        if (!File.Exists(manifest) || !File.Exists(path))
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(manifest), HubJsonContext.Default.InstalledModel) is { } m ? m with { Path = path } : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private void PruneEmptyDirectories(string directory)
    {
        var stop = Path.GetFullPath(ModelsDirectory);
        for (var dir = Path.GetFullPath(directory); dir.Length > stop.Length && dir.StartsWith(stop, StringComparison.Ordinal); dir = Path.GetDirectoryName(dir)!)
        {
            if (Directory.EnumerateFileSystemEntries(dir).Any())
            {
                break;
            }
            Directory.Delete(dir);
        }
    }
}
