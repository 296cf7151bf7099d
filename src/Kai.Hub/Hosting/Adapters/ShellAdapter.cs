using System.Diagnostics;
using System.Text;
using Kai.Protocol;

namespace Kai.Hub.Hosting.Adapters;

/// <summary>A shell agent's resolved settings.</summary>
/// <param name="Name">The allow-list name (<c>config.executable</c>).</param>
/// <param name="Path">The absolute path the operator mapped the name to.</param>
/// <param name="Args">The argument templates, one argv entry each (placeholders as in <see cref="RequestTemplate"/>).</param>
/// <param name="Timeout">Per run; past it the process tree is killed.</param>
internal sealed record ShellDefinition(string Name, string Path, IReadOnlyList<string> Args, TimeSpan Timeout);

/// <summary>
/// Seed 002's shell agent (<c>shell_agent</c>): runs one allow-listed executable per call, with an argv (never a shell, so
/// nothing in the input is interpreted), a cleared environment (only <see cref="ShellAdapterOptions.Environment"/> passes), the
/// call's JSON (<see cref="ExternalCall.Body"/>) on stdin, and stdout (JSON when it parses, else text) as the result.
/// </summary>
/// <remarks>
/// Limits: the timeout kills the whole process tree (<c>ADAPTER_TIMEOUT</c>); stdout over
/// <see cref="ShellAdapterOptions.MaxOutputBytes"/> kills it too (<c>ADAPTER_OUTPUT_TOO_LARGE</c>); stderr is kept up to
/// <see cref="ShellAdapterOptions.MaxErrorBytes"/> for the message of a non-zero exit (<c>ADAPTER_FAILED</c>). The allow-list is
/// read again at each run, so an executable removed from it stops running (<c>ADAPTER_EXECUTABLE_FORBIDDEN</c>).
/// </remarks>
internal sealed class ShellAdapter(ShellDefinition definition, Func<ShellAdapterOptions> options, TimeProvider time) : IExternalAdapter
{
    public string Describe => "shell " + definition.Name;

    public async Task<ExternalResult> InvokeAsync(ExternalCall call, CancellationToken ct)
    {
        var o = options();
        if (!o.Allowed.TryGetValue(definition.Name, out var path) || path != definition.Path)
        {
            throw new AdapterException(ErrorCodes.AdapterExecutableForbidden, $"The executable '{definition.Name}' is no longer allowed (Kai:Adapters:Shell:Allowed).");
        }
        var start = new ProcessStartInfo(path)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            CreateNoWindow = true,
            WorkingDirectory = string.IsNullOrEmpty(o.WorkingDirectory) ? System.IO.Path.GetTempPath() : o.WorkingDirectory,
        };
        foreach (var arg in definition.Args)
        {
            start.ArgumentList.Add(RequestTemplate.Placeholder().Replace(arg, m => call.Text(m.Groups[1].Value)));
        }
        start.Environment.Clear();
        foreach (var name in o.Environment)
        {
            if (Environment.GetEnvironmentVariable(name) is { } value)
            {
                start.Environment[name] = value;
            }
        }

        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new AdapterException(ErrorCodes.AdapterFailed, $"The executable '{definition.Name}' could not start: {e.Message}", inner: e);
        }

        using var deadline = new CancellationTokenSource(definition.Timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, deadline.Token);
        var tooLarge = false;
        void Kill()
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // already exited
            }
        }
        await using var onCancel = linked.Token.Register(Kill);

        var stdout = ReadAsync(process.StandardOutput.BaseStream, o.MaxOutputBytes, () => { tooLarge = true; Kill(); });
        var stderr = ReadAsync(process.StandardError.BaseStream, o.MaxErrorBytes, null);
        try
        {
            await process.StandardInput.BaseStream.WriteAsync(Encoding.UTF8.GetBytes(call.Body(time.GetUtcNow())), linked.Token);
            await process.StandardInput.BaseStream.FlushAsync(linked.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // The program does not read stdin (or ended first), or the run was cut: its exit says what happened.
        }
        finally
        {
            try
            {
                process.StandardInput.Close();
            }
            catch (IOException)
            {
            }
        }
        var output = await stdout;
        var errors = await stderr;
        await process.WaitForExitAsync(CancellationToken.None);

        if (ct.IsCancellationRequested)
        {
            throw new OperationCanceledException(ct);
        }
        if (tooLarge)
        {
            throw new AdapterException(ErrorCodes.AdapterOutputTooLarge, $"'{definition.Name}' wrote more than {o.MaxOutputBytes} bytes to stdout; it was stopped.");
        }
        if (deadline.IsCancellationRequested)
        {
            throw new AdapterException(ErrorCodes.AdapterTimeout, $"'{definition.Name}' did not finish within {definition.Timeout.TotalSeconds:0.###} s; its process tree was killed.");
        }
        if (process.ExitCode != 0)
        {
            var brief = Encoding.UTF8.GetString(errors).Trim().ReplaceLineEndings(" ");
            throw new AdapterException(ErrorCodes.AdapterFailed, $"'{definition.Name}' exited with status {process.ExitCode}{(brief.Length > 0 ? ": " + brief : "")}");
        }
        return new ExternalResult(ExternalResult.Parse(Encoding.UTF8.GetString(output)), 0);
    }

    /// <summary>Reads a stream to its end, keeping at most <paramref name="cap"/> bytes; past the cap, calls <paramref name="over"/> once.</summary>
    private static async Task<byte[]> ReadAsync(Stream stream, int cap, Action? over)
    {
        using var kept = new MemoryStream();
        var buffer = new byte[16 * 1024];
        var signalled = false;
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0)
            {
                var room = cap - (int)kept.Length;
                if (room > 0)
                {
                    kept.Write(buffer, 0, Math.Min(room, n));
                }
                if (n > room && !signalled && over is not null)
                {
                    signalled = true;
                    over();
                }
            }
        }
        catch (IOException)
        {
            // The process was killed mid-write.
        }
        return kept.ToArray();
    }
}
