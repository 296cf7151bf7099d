using System.Diagnostics;
using System.Text;

namespace Kai.Cli.Agent;

/// <summary>Settings of <see cref="ShellRunner"/>.</summary>
internal sealed class ShellOptions
{
    /// <summary>The programs that may run, by the exact name (or path) a request must use. Default: none.</summary>
    public IReadOnlyCollection<string> Allowed { get; init; } = [];

    /// <summary>How long a program may run before its process tree is killed. Default: 10 seconds.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Bytes kept of stdout and of stderr each; a program that writes more is stopped. Default: 64 KiB.</summary>
    public int MaxOutputBytes { get; init; } = 64 * 1024;
}

/// <summary>The result of the <c>shell</c> command.</summary>
/// <param name="Command">The program run.</param>
/// <param name="ExitCode">Its exit code (137 when killed on Linux).</param>
/// <param name="Stdout">Standard output as UTF-8, at most the cap.</param>
/// <param name="Stderr">Standard error as UTF-8, at most the cap.</param>
/// <param name="Truncated">Whether output was cut at the cap (the program was then stopped).</param>
/// <param name="TimedOut">Whether the program ran out of time and was killed.</param>
internal sealed record ShellResult(string Command, int ExitCode, string Stdout, string Stderr, bool Truncated, bool TimedOut);

/// <summary>
/// Runs programs from an allow-list with no shell in between: the program and each argument are passed as they are
/// (<see cref="ProcessStartInfo.ArgumentList"/>, <c>UseShellExecute = false</c>), so <c>;</c>, <c>|</c>, <c>$()</c> or globs
/// mean nothing. Stdin is closed at once. The whole process tree is killed on timeout or when the output cap is hit.
/// </summary>
internal sealed class ShellRunner(ShellOptions options)
{
    private static readonly TimeSpan DrainGrace = TimeSpan.FromSeconds(2);
    private readonly HashSet<string> _allowed = new(options.Allowed, StringComparer.Ordinal);

    public ShellOptions Options { get; } = options;

    /// <summary>Whether <paramref name="command"/> is on the allow-list (exact, case-sensitive match).</summary>
    public bool IsAllowed(string command) => _allowed.Contains(command);

    /// <summary>Runs <paramref name="command"/> with <paramref name="args"/>.</summary>
    /// <exception cref="UnauthorizedAccessException">The program is not on the allow-list; the message names the allowed ones.</exception>
    /// <exception cref="InvalidOperationException">The program could not be started.</exception>
    public async Task<ShellResult> RunAsync(string command, IReadOnlyList<string> args, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(args);
        if (!IsAllowed(command))
        {
            throw new UnauthorizedAccessException(_allowed.Count == 0
                ? $"'{command}' is not allowed: this agent was started without --allow-shell, so it runs no programs."
                : $"'{command}' is not allowed; this agent may run only: {string.Join(", ", _allowed.Order(StringComparer.Ordinal))} (see --allow-shell).");
        }
        var start = new ProcessStartInfo(command)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            CreateNoWindow = true,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }
        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"'{command}' could not be started: {ex.Message}", ex);
        }
        process.StandardInput.Close();

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        stop.CancelAfter(Options.Timeout);
        var stdout = new CappedBuffer(Options.MaxOutputBytes);
        var stderr = new CappedBuffer(Options.MaxOutputBytes);
        var overflow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var readOut = PumpAsync(process.StandardOutput.BaseStream, stdout, overflow);
        var readErr = PumpAsync(process.StandardError.BaseStream, stderr, overflow);
        var timedOut = false;
        try
        {
            await Task.WhenAny(process.WaitForExitAsync(stop.Token), overflow.Task).Unwrap().WaitAsync(stop.Token);
        }
        catch (OperationCanceledException)
        {
            timedOut = !ct.IsCancellationRequested;
        }
        if (!process.HasExited)
        {
            // Timeout, cancellation, or too much output: stop the program and everything it started.
            Kill(process);
        }
        await process.WaitForExitAsync(CancellationToken.None);
        try
        {
            // The pipes close when the last process holding them is gone. A program that exited normally but left a
            // background child holding them would keep us reading forever, so the drain gets a short grace period.
            await Task.WhenAll(readOut, readErr).WaitAsync(DrainGrace, CancellationToken.None);
        }
        catch (TimeoutException)
        {
            // Keep what arrived; the orphan's later output is dropped.
        }
        ct.ThrowIfCancellationRequested();
        return new ShellResult(command, process.ExitCode, stdout.Text(), stderr.Text(), stdout.Truncated || stderr.Truncated, timedOut);
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited meanwhile.
        }
    }

    private static async Task PumpAsync(Stream stream, CappedBuffer buffer, TaskCompletionSource overflow)
    {
        var chunk = new byte[8192];
        int read;
        while ((read = await ReadAsync(stream, chunk)) > 0)
        {
            if (!buffer.Append(chunk.AsSpan(0, read)))
            {
                overflow.TrySetResult();
            }
        }
    }

    private static async Task<int> ReadAsync(Stream stream, byte[] chunk)
    {
        try
        {
            return await stream.ReadAsync(chunk);
        }
        catch (Exception ex) when (ex is ObjectDisposedException or IOException)
        {
            // Disposed after the drain's grace period ran out.
            return 0;
        }
    }

    /// <summary>Keeps the first <c>cap</c> bytes and remembers whether more came.</summary>
    private sealed class CappedBuffer(int cap)
    {
        private readonly MemoryStream _bytes = new();
        private readonly Lock _lock = new();

        public bool Truncated { get; private set; }

        /// <summary>Appends what fits; returns false once the cap is exceeded.</summary>
        public bool Append(ReadOnlySpan<byte> data)
        {
            using var scope = _lock.EnterScope();
            var room = cap - (int)_bytes.Length;
            if (data.Length > room)
            {
                _bytes.Write(data[..Math.Max(0, room)]);
                Truncated = true;
                return false;
            }
            _bytes.Write(data);
            return true;
        }

        public string Text()
        {
            using var scope = _lock.EnterScope();
            return Encoding.UTF8.GetString(_bytes.GetBuffer(), 0, (int)_bytes.Length);
        }
    }
}
