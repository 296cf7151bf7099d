namespace Kai.Hub.Housekeeping;

/// <summary>
/// A periodic clean-up step run by <see cref="HubSweeper"/> on every sweep (and by tests through
/// <see cref="HubSweeper.SweepOnceAsync"/>). Register implementations as <c>IHousekeeping</c> singletons.
/// </summary>
internal interface IHousekeeping
{
    Task SweepAsync(CancellationToken ct);
}
