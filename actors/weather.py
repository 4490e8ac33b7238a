"""The weather poller: current conditions every 15 min, `weather_updated` when they change.

Each fresh reading publishes `WeatherObserved` (reading, atmospheric mood, season) for the mood
engine; `WeatherUpdated` goes to viewers only when conditions change meaningfully
(`atmosphere.conditions_changed`). A read answered from the service's 10-minute floor publishes
nothing new. A failing API marks the service unavailable and keeps `last_data`.
"""

from __future__ import annotations

from greenhouse.messages import WeatherObserved, WeatherUpdated
from greenhouse.models import ComprehensiveWeather, CurrentWeather
from greenhouse.polling import PollerActor
from greenhouse.runtime import Bus, Clock, Mailbox
from greenhouse.services.atmosphere import conditions_changed
from greenhouse.services.weather import WeatherService

__all__ = ["WeatherPoller"]


class WeatherPoller(PollerActor):
    """Polls OpenWeatherMap through `WeatherService`."""

    service_name = "weather"
    task_id = "weather_sync"
    service: WeatherService

    def __init__(
        self,
        inbox: Mailbox | None,
        bus: Bus | None,
        service: WeatherService,
        clock: Clock | None = None,
        *,
        interval: float | None = 15 * 60.0,
        sync_timeout: float = 180.0,
        availability: dict[str, bool] | None = None,
        name: str = "weather",
    ) -> None:
        super().__init__(
            name, inbox, bus, clock, interval=interval, sync_timeout=sync_timeout,
            availability=availability,
        )
        self.service = service
        self.last_data: ComprehensiveWeather | None = None
        self.last_published: CurrentWeather | None = None  # the conditions viewers last saw

    async def poll(self) -> str | None:
        response = await self.service.get_comprehensive_weather_data()
        if not response.ok or response.data is None:
            return response.error or "weather: no data"
        if response.from_cache and self.last_data is not None:
            return None  # the same reading as last time: nothing new to say
        data: ComprehensiveWeather = response.data
        now = self.clock.time()
        units = self.service.units
        changed = conditions_changed(self.last_published, data.current, units)
        self.last_data = data
        location = data.current.name or self.service.location
        await self.publish(
            WeatherObserved(
                location=location,
                units=units,
                current=data.current,
                mood=data.mood,
                season=data.season,
                observed_at=now,
                changed=changed,
            )
        )
        if changed:
            self.last_published = data.current
            await self.publish(weather_updated(data, location, now))
        return None


def weather_updated(data: ComprehensiveWeather, location: str, now: float) -> WeatherUpdated:
    """The viewers' `weather_updated` event for a reading."""
    current = data.current
    return WeatherUpdated(
        condition=current.condition.main,
        description=current.condition.description,
        temperature=current.main.temp,
        humidity=current.main.humidity,
        wind_speed=current.wind.speed,
        clouds=current.clouds.all,
        is_day=data.mood.is_day,
        location=location,
        weather_pattern=data.mood.weather_pattern,
        season=data.season.season,
        units=data.units,
        source="weather_sync",
        timestamp=now,
    )
