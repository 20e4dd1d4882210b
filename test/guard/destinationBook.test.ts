import type { AttemptedDestination } from '../../src/destinations/firewallLog';
import { DestinationBook, MAX_KEPT, MAX_LISTED } from '../../src/guard/destinationBook';
import type { CameraDestinations } from '../../src/router/driver';

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 11, 3, 12, 0, 0);
const tries = (address: string, logged: number, port = 8000): AttemptedDestination => ({ address, protocol: 'tcp', port, logged });
const reading = (destinations: AttemptedDestination[], otherLogged = 0): CameraDestinations => ({
  attempts: { destinations, otherDestinations: otherLogged > 0 ? 1 : 0, logged: destinations.reduce((total, each) => total + each.logged, 0) + otherLogged },
  flows: undefined,
});

describe('the destination book', () => {
  it('adds the tries of every reading once, per destination and port, the most first', () => {
    const book = new DestinationBook();
    book.add(T0, reading([tries('47.96.1.2', 25), tries('8.8.8.8', 2, 53)]));
    book.add(T0 + 10_000, reading([tries('47.96.1.2', 15), tries('47.96.1.2', 3, 8080)]));
    expect(book.episode().destinations.map((each) => [each.address, each.port, each.logged])).toEqual([
      ['47.96.1.2', 8000, 40],
      ['47.96.1.2', 8080, 3],
      ['8.8.8.8', 53, 2],
    ]);
    expect(book.episode().logged).toBe(45);
    expect(book.day(T0 + 20_000).logged).toBe(45);
  });

  it('forgets tries older than 24 hours in the day list, and the episode when it ends', () => {
    const book = new DestinationBook();
    book.add(T0, reading([tries('198.51.100.1', 9)]));
    book.add(T0 + 23 * HOUR, reading([tries('198.51.100.2', 1)]));
    expect(book.day(T0 + 23 * HOUR).destinations.map((each) => each.address)).toEqual(['198.51.100.1', '198.51.100.2']);
    expect(book.day(T0 + 25 * HOUR).destinations.map((each) => each.address)).toEqual(['198.51.100.2']);
    book.endEpisode();
    expect(book.episode()).toEqual({ destinations: [], others: 0, logged: 0 });
    expect(book.episodeSince).toBeUndefined();
  });

  it('stays bounded under a flood of destinations and lists at most 20, counting the rest', () => {
    const book = new DestinationBook();
    for (let reading_ = 0; reading_ < 50; reading_++) {
      const many = Array.from({ length: 200 }, (_, index) => tries(`10.${reading_}.${index >> 8}.${index & 255}`, 1 + (index === 0 ? 100 : 0)));
      book.add(T0 + reading_ * 1000, reading(many));
    }
    const episode = book.episode();
    expect(episode.destinations).toHaveLength(MAX_LISTED);
    expect(episode.destinations.length + episode.others).toBe(MAX_KEPT);
    // The busiest (101 tries each) survive the flood.
    expect(episode.destinations.every((each) => each.logged === 101)).toBe(true);
  });

  it('counts logged tries the driver left out of its list, and ignores nonsense counts', () => {
    const book = new DestinationBook();
    book.add(T0, { attempts: { destinations: [tries('192.0.2.200', 3), tries('192.0.2.201', -5), tries('192.0.2.202', Number.NaN)], otherDestinations: 1, logged: 10 }, flows: undefined });
    expect(book.episode().destinations.map((each) => each.address)).toEqual(['192.0.2.200']);
    expect(book.episode().logged).toBe(10);
  });

  it('keeps only the latest reading of flows', () => {
    const book = new DestinationBook();
    expect(book.flows()).toBeUndefined();
    book.add(T0, { attempts: undefined, flows: { destinations: [], otherDestinations: 0, accounting: 'off' } });
    book.add(T0 + 1000, { attempts: undefined, flows: { destinations: [], otherDestinations: 3, accounting: 'on' } });
    book.add(T0 + 2000, undefined);
    expect(book.flows()).toEqual({ at: T0 + 1000, flows: { destinations: [], otherDestinations: 3, accounting: 'on' } });
  });
});
